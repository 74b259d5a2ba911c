// Tiering end to end on loopback: a rack-level chunkcached on a datastore directory, node-level
// chunkcached processes whose datastore is `remote` (GrpcUpstream → the rack's GetChunk,
// GetSnapshotFile, ListSnapshots), read with the C++ client. Also: the node verifies what the
// rack sends (a lying rack, a gRPC server in this test, gets DATA_LOSS and nothing cached), a
// rack that is down or hangs, tokens between the tiers, and the new RPCs' errors.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "format/blob.h"
#include "tests/service/service_test_env.h"
#include "upstream/datastore_upstream.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kArchive[] = "drive-scsi0.img.fidx";

double Metric(const ChunkcachedProcess& server, std::string_view name, const Labels& labels) {
  return server.Metric(name, labels).value_or(-1);
}

double Fetches(const ChunkcachedProcess& server, const std::string& result) {
  return Metric(server, "chunkcache_upstream_fetches_total",
                {{"datastore", "store"}, {"result", result}});
}

// Three random chunks and two zero chunks: four distinct chunks.
std::string TestImage() {
  std::string image = PseudoRandomBytes(3 * kChunk, 7);
  image.insert(kChunk, std::string(kChunk, '\0'));
  image.append(std::string(kChunk, '\0'));
  return image;
}

// The first `length` bytes of the test archive, read through `node`.
absl::StatusOr<std::string> ReadArchive(const ChunkcachedProcess& node, uint64_t length) {
  return ConnectClient(node.address())->Read(Ref("store", kSnapshot, kArchive), 0, length);
}

// A node whose datastore "store" is the rack's datastore "store". `remote_extra` adds fields to
// the remote object (JSON, starting with a comma).
std::unique_ptr<ChunkcachedProcess> StartNode(const ScratchDir& dir, const std::string& name,
                                              const std::string& target,
                                              const std::string& remote_extra = "",
                                              std::vector<std::string> args = {}) {
  const std::filesystem::path config = dir / (name + ".json");
  WriteFileBytes(config, absl::StrCat(R"({"datastores": [{"name": "store", "remote": {"target": ")",
                                      target, "\"", remote_extra, "}}]}"));
  args.insert(args.begin(), {"--config", config.string(), "--cache-bytes", "256MiB"});
  return ChunkcachedProcess::Start(args);
}

// A 4 MiB chunk's blob is larger than gRPC's default 4 MiB message limit.
std::unique_ptr<v1::ChunkCache::Stub> RawStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return v1::ChunkCache::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

grpc::Status GetChunk(v1::ChunkCache::Stub& stub, const std::string& datastore,
                      const std::string& digest, v1::GetChunkResponse* response = nullptr,
                      const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::GetChunkRequest request;
  request.set_datastore(datastore);
  request.set_digest(digest);
  v1::GetChunkResponse ignored;
  return stub.GetChunk(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status GetSnapshotFile(v1::ChunkCache::Stub& stub, const v1::SnapshotRef& ref,
                             const std::string& file_name, const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::GetSnapshotFileRequest request;
  *request.mutable_snapshot() = ref;
  request.set_file_name(file_name);
  v1::GetSnapshotFileResponse response;
  return stub.GetSnapshotFile(&context, request, &response);
}

grpc::Status ListSnapshots(v1::ChunkCache::Stub& stub, const std::string& datastore,
                           v1::ListSnapshotsResponse* response, const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::ListSnapshotsRequest request;
  request.set_datastore(datastore);
  return stub.ListSnapshots(&context, request, response);
}

// The digests of an archive's chunks, from its index in the datastore directory.
std::vector<std::string> ChunkDigests(const std::filesystem::path& datastore) {
  std::vector<std::string> digests;
  for (const auto& prefix : std::filesystem::directory_iterator(datastore / ".chunks")) {
    for (const auto& chunk : std::filesystem::directory_iterator(prefix.path())) {
      digests.push_back(chunk.path().filename().string());
    }
  }
  return digests;
}

TEST(ServiceTieringTest, TwoNodesReadThroughOneRackThatFetchesEachChunkOnce) {
  ScratchDir dir;
  const std::string image = TestImage();
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  std::unique_ptr<ChunkcachedProcess> rack = ChunkcachedProcess::Start(
      {"--datastore", "store=" + (dir / "ds").string(), "--cache-bytes", "256MiB"});
  ASSERT_NE(rack, nullptr);
  std::unique_ptr<ChunkcachedProcess> node_a = StartNode(dir, "node-a", rack->address());
  std::unique_ptr<ChunkcachedProcess> node_b = StartNode(dir, "node-b", rack->address());
  ASSERT_NE(node_a, nullptr);
  ASSERT_NE(node_b, nullptr);
  EXPECT_NE(node_a->Log().find("remote=\"grpc " + rack->address() + "/store\""), std::string::npos)
      << node_a->Log();

  for (ChunkcachedProcess* node : {node_a.get(), node_b.get()}) {
    std::unique_ptr<ChunkCacheClient> client = ConnectClient(node->address());
    absl::StatusOr<std::string> bytes =
        client->Read(Ref("store", kSnapshot, kArchive), 0, image.size());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(*bytes == image) << "node " << node->address() << " returned other bytes";
    absl::StatusOr<v1::SnapshotInfo> info = client->Stat(Ref("store", kSnapshot, kArchive));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->distinct_chunks(), 4u);
    // Each node fetched each distinct chunk once, from the rack.
    EXPECT_EQ(Fetches(*node, "ok"), 4);
    EXPECT_EQ(Fetches(*node, "corrupt"), 0);
  }
  // The rack fetched each distinct chunk from its datastore exactly once, and served both nodes.
  EXPECT_EQ(Fetches(*rack, "ok"), 4);
  EXPECT_EQ(Fetches(*rack, "error"), 0);
  EXPECT_EQ(Metric(*rack, "chunkcache_requests_total", {{"rpc", "GetChunk"}, {"code", "OK"}}), 8);
  EXPECT_GE(
      Metric(*rack, "chunkcache_requests_total", {{"rpc", "GetSnapshotFile"}, {"code", "OK"}}), 4)
      << "each node read the manifest and the index";
  // A node is healthy while the rack is.
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(node_a->address());
  EXPECT_EQ(node_a->Stop(SIGTERM), 0) << node_a->Log();
  EXPECT_EQ(node_b->Stop(SIGTERM), 0) << node_b->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

TEST(ServiceTieringTest, EncryptedAndPlainArchivesOfAKeyedDatastore) {
  ScratchDir dir;
  CreateKeyFile(dir / "key.json");
  const std::string secret = PseudoRandomBytes(2 * kChunk + 5000, 31);
  const std::string plain = PseudoRandomBytes(kChunk + 77, 32);
  WriteFileBytes(dir / "secret.img", secret);
  WriteFileBytes(dir / "plain.img", plain);
  CreateArchive(dir / "ds", "vm/1/2026-01-01T00:00:00Z", kArchive, dir / "secret.img",
                dir / "key.json");
  CreateArchive(dir / "ds", "vm/2/2026-01-01T00:00:00Z", kArchive, dir / "plain.img");
  const std::string keyfile = "store=" + (dir / "key.json").string();
  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string(), "--keyfile",
                                 keyfile, "--cache-bytes", "256MiB"});
  ASSERT_NE(rack, nullptr);
  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", rack->address(), "", {"--keyfile", keyfile});
  ASSERT_NE(node, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(node->address());
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<std::string> got_secret =
        client->Read(Ref("store", "vm/1/2026-01-01T00:00:00Z", kArchive), 0, secret.size());
    ASSERT_TRUE(got_secret.ok()) << got_secret.status();
    EXPECT_TRUE(*got_secret == secret);
    absl::StatusOr<std::string> got_plain =
        client->Read(Ref("store", "vm/2/2026-01-01T00:00:00Z", kArchive), 0, plain.size());
    ASSERT_TRUE(got_plain.ok()) << got_plain.status();
    EXPECT_TRUE(*got_plain == plain);
  }
  EXPECT_EQ(Fetches(*node, "ok"), 5) << "3 encrypted and 2 plain chunks, each once";
  EXPECT_EQ(Fetches(*node, "corrupt"), 0);
  EXPECT_EQ(Metric(*rack, "chunkcache_requests_total", {{"rpc", "GetChunk"}, {"code", "OK"}}), 5);

  // A node without the key cannot read the encrypted archive (its manifest says so).
  std::unique_ptr<ChunkcachedProcess> keyless = StartNode(dir, "keyless", rack->address());
  ASSERT_NE(keyless, nullptr);
  absl::StatusOr<std::string> refused =
      ConnectClient(keyless->address())
          ->Read(Ref("store", "vm/1/2026-01-01T00:00:00Z", kArchive), 0, 4096);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(keyless->Stop(SIGTERM), 0) << keyless->Log();
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

// A rack that lies about chunks (or hangs) but serves the snapshot files truthfully.
class LyingRack final : public v1::ChunkCache::CallbackService {
 public:
  enum class Lie { kBadCrc, kOtherData, kHang };

  explicit LyingRack(std::shared_ptr<Upstream> truth) : truth_(std::move(truth)) {}

  std::atomic<Lie> lie{Lie::kBadCrc};
  std::atomic<int> get_chunk_calls{0};

  grpc::ServerUnaryReactor* GetChunk(grpc::CallbackServerContext* context,
                                     const v1::GetChunkRequest* request,
                                     v1::GetChunkResponse* response) override {
    ++get_chunk_calls;
    if (lie == Lie::kHang) return new HangingReactor();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<ChunkDigest> digest = ChunkDigest::FromHex(request->digest());
    absl::StatusOr<std::string> raw =
        digest.ok() ? truth_->ReadChunk(*digest) : absl::StatusOr<std::string>(digest.status());
    absl::StatusOr<std::string> plaintext =
        raw.ok() ? DecodeBlob(*raw, {}) : absl::StatusOr<std::string>(raw.status());
    if (!plaintext.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such chunk"));
      return reactor;
    }
    std::string data = *plaintext;
    if (lie == Lie::kOtherData) data[data.size() / 2] ^= 1;  // a valid blob of other bytes
    std::string blob = *EncodeBlob(data, {.compress = false});
    if (lie == Lie::kBadCrc) blob[blob.size() / 2] ^= 1;  // the bytes no longer match the CRC
    response->set_blob(std::move(blob));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetSnapshotFile(grpc::CallbackServerContext* context,
                                            const v1::GetSnapshotFileRequest* request,
                                            v1::GetSnapshotFileResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const v1::SnapshotRef& ref = request->snapshot();
    absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(
        ref.namespace_(), ref.backup_type(), ref.backup_id(), ref.backup_time());
    absl::StatusOr<std::string> bytes = name.ok()
                                            ? truth_->ReadSnapshotFile(*name, request->file_name())
                                            : absl::StatusOr<std::string>(name.status());
    if (!bytes.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such file"));
      return reactor;
    }
    response->set_data(*std::move(bytes));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  // Answers only when the caller gives up.
  class HangingReactor final : public grpc::ServerUnaryReactor {
   public:
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };

  std::shared_ptr<Upstream> truth_;
};

TEST(ServiceTieringTest, NodeVerifiesWhatTheRackSendsAndGivesUpOnAHangingRack) {
  ScratchDir dir;
  const std::string image = PseudoRandomBytes(kChunk, 41);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> truth = DatastoreUpstream::Open(dir / "ds");
  ASSERT_TRUE(truth.ok()) << truth.status();
  LyingRack lying(std::shared_ptr<Upstream>(*std::move(truth)));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&lying);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", absl::StrCat("127.0.0.1:", port), R"(, "timeoutSeconds": 2)",
                {"--no-readahead"});
  ASSERT_NE(node, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(node->address());
  const v1::SnapshotRef ref = Ref("store", kSnapshot, kArchive);

  for (LyingRack::Lie lie : {LyingRack::Lie::kBadCrc, LyingRack::Lie::kOtherData}) {
    lying.lie = lie;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int calls_before = lying.get_chunk_calls;
      absl::StatusOr<std::string> bytes = client->Read(ref, 0, 4096);
      EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss) << bytes.status();
      // Nothing was cached: every read asks the rack again.
      EXPECT_EQ(lying.get_chunk_calls, calls_before + 1);
    }
  }
  EXPECT_EQ(Fetches(*node, "corrupt"), 4);
  EXPECT_EQ(Fetches(*node, "ok"), 0);
  EXPECT_GE(Metric(*node, "chunkcache_decode_errors_total", {{"reason", "crc"}}), 2);
  EXPECT_GE(Metric(*node, "chunkcache_decode_errors_total", {{"reason", "digest"}}), 2);
  EXPECT_NE(node->Log().find("event=corrupt_chunk"), std::string::npos) << node->Log();

  lying.lie = LyingRack::Lie::kHang;
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> hung = client->Read(ref, 0, 4096);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(hung.status().code(), absl::StatusCode::kDeadlineExceeded) << hung.status();
  EXPECT_LT(waited, std::chrono::seconds(10)) << "the node waited past its 2 s remote timeout";
  EXPECT_GE(waited, std::chrono::milliseconds(1500));

  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

TEST(ServiceTieringTest, RackDownIsUnavailableAndTheNodeIsNotServing) {
  ScratchDir dir;
  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", absl::StrCat("127.0.0.1:", FreeTcpPort()));
  ASSERT_NE(node, nullptr);
  absl::StatusOr<std::string> bytes = ReadArchive(*node, 4096);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kUnavailable) << bytes.status();
  EXPECT_NE(node->Log().find("event=datastore_unreadable datastore=store"), std::string::npos)
      << node->Log();
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
}

TEST(ServiceTieringTest, TokensBetweenTiersAndWholeDatastorePermission) {
  ScratchDir dir;
  const std::string image = PseudoRandomBytes(kChunk, 51);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  CreateArchive(dir / "ds", "ns/team/vm/7/2026-01-01T00:00:00Z", kArchive, dir / "disk.img");
  WriteFileBytes(dir / "rack.json",
                 absl::StrCat(R"({"datastores": [{"name": "store", "path": ")",
                              (dir / "ds").string(), R"("}], "clients": [)",
                              R"({"name": "nodes", "tokenSha256": ")", Sha256Hex("node-token"),
                              R"(", "allow": ["store"]}, )", R"({"name": "team", "tokenSha256": ")",
                              Sha256Hex("team-token"), R"(", "allow": ["store:team"]}]})"));
  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--config", (dir / "rack.json").string()});
  ASSERT_NE(rack, nullptr);
  WriteFileBytes(dir / "node-token", "node-token\n");
  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", rack->address(),
                absl::StrCat(R"(, "tokenFile": ")", (dir / "node-token").string(), "\""));
  std::unique_ptr<ChunkcachedProcess> tokenless = StartNode(dir, "tokenless", rack->address());
  ASSERT_NE(node, nullptr);
  ASSERT_NE(tokenless, nullptr);

  absl::StatusOr<std::string> bytes = ReadArchive(*node, image.size());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == image);
  absl::StatusOr<std::string> refused = ReadArchive(*tokenless, 4096);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(std::string(refused.status().message()).find("credentials"), std::string::npos)
      << refused.status();

  // A client allowed one namespace reads its files there, but no chunk by digest and no list.
  std::unique_ptr<v1::ChunkCache::Stub> stub = RawStub(rack->address());
  const std::string digest = ChunkDigests(dir / "ds").front();
  EXPECT_EQ(GetChunk(*stub, "store", digest, nullptr, "node-token").error_code(),
            grpc::StatusCode::OK);
  const grpc::Status denied = GetChunk(*stub, "store", digest, nullptr, "team-token");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_NE(denied.error_message().find("whole datastore"), std::string::npos);
  EXPECT_EQ(GetChunk(*stub, "store", digest).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::ListSnapshotsResponse listed;
  EXPECT_EQ(ListSnapshots(*stub, "store", &listed, "team-token").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ListSnapshots(*stub, "store", &listed, "node-token").error_code(),
            grpc::StatusCode::OK);
  EXPECT_EQ(listed.snapshots_size(), 2);
  EXPECT_EQ(GetSnapshotFile(*stub, Ref("store", "ns/team/vm/7/2026-01-01T00:00:00Z", ""), kArchive,
                            "team-token")
                .error_code(),
            grpc::StatusCode::OK);
  EXPECT_EQ(GetSnapshotFile(*stub, Ref("store", kSnapshot, ""), "index.json.blob", "team-token")
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  EXPECT_EQ(tokenless->Stop(SIGTERM), 0) << tokenless->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult result = RunProcess(argv);
  ASSERT_EQ(result.exit_code, 0) << absl::StrJoin(argv, " ") << "\n" << result.stderr_text;
}

// `name`.pem and `name`.key signed by `ca` (itself signed when name == ca).
void MakeCert(const std::filesystem::path& dir, const std::string& ca, const std::string& name,
              const std::string& extensions) {
  const std::string key = (dir / (name + ".key")).string();
  const std::string pem = (dir / (name + ".pem")).string();
  if (name == ca) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", pem, "-days", "2", "-subj", "/CN=" + name});
    return;
  }
  const std::string csr = (dir / (name + ".csr")).string();
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           key, "-out", csr, "-subj", "/CN=" + name});
  WriteFileBytes(dir / (name + ".ext"), extensions + "\n");
  Openssl({"x509", "-req", "-in", csr, "-CA", (dir / (ca + ".pem")).string(), "-CAkey",
           (dir / (ca + ".key")).string(), "-CAcreateserial", "-out", pem, "-days", "2", "-extfile",
           (dir / (name + ".ext")).string()});
}

TEST(ServiceTieringTest, MutualTlsBetweenTiers) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl"));
  ScratchDir dir;
  MakeCert(dir.path(), "ca", "ca", "");
  MakeCert(dir.path(), "ca", "rack",
           "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  MakeCert(dir.path(), "ca", "node-a", "extendedKeyUsage=clientAuth");
  const std::string image = PseudoRandomBytes(kChunk + 999, 71);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  const auto path = [&](const std::string& file) { return (dir / file).string(); };
  WriteFileBytes(dir / "rack.json",
                 absl::StrCat(R"({"datastores": [{"name": "store", "path": ")", path("ds"),
                              R"("}], "tls": {"certFile": ")", path("rack.pem"),
                              R"(", "keyFile": ")", path("rack.key"), R"(", "clientCaFile": ")",
                              path("ca.pem"), R"(", "requireClientCert": true}, )",
                              R"("clients": [{"name": "node-a", "certSubject": "CN=node-a", )",
                              R"("allow": ["store"]}]})"));
  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--config", path("rack.json")});
  ASSERT_NE(rack, nullptr);
  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", rack->address(),
                absl::StrCat(R"(, "caFile": ")", path("ca.pem"), R"(", "certFile": ")",
                             path("node-a.pem"), R"(", "keyFile": ")", path("node-a.key"), "\""));
  std::unique_ptr<ChunkcachedProcess> anonymous = StartNode(
      dir, "anonymous", rack->address(), absl::StrCat(R"(, "caFile": ")", path("ca.pem"), "\""));
  ASSERT_NE(node, nullptr);
  ASSERT_NE(anonymous, nullptr);
  absl::StatusOr<std::string> bytes = ReadArchive(*node, image.size());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == image);
  absl::StatusOr<std::string> refused = ReadArchive(*anonymous, 4096);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  EXPECT_EQ(anonymous->Stop(SIGTERM), 0) << anonymous->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

TEST(ServiceTieringTest, TieringRpcsRejectBadInputAndReportMissingAndCorruptChunks) {
  ScratchDir dir;
  const std::string image = PseudoRandomBytes(2 * kChunk, 61);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string()});
  ASSERT_NE(rack, nullptr);
  std::unique_ptr<v1::ChunkCache::Stub> stub = RawStub(rack->address());
  const std::vector<std::string> digests = ChunkDigests(dir / "ds");
  ASSERT_EQ(digests.size(), 2u);

  // A good chunk: an unencrypted, uncompressed blob of the verified bytes.
  v1::GetChunkResponse response;
  ASSERT_TRUE(GetChunk(*stub, "store", digests[0], &response).ok());
  BlobDecodeOptions check;
  check.expected_digest = *ChunkDigest::FromHex(digests[0]);
  check.expected_mode = CryptMode::kNone;
  EXPECT_EQ(PeekBlobKind(response.blob()).value_or(BlobKind::kZstd), BlobKind::kPlain);
  absl::StatusOr<std::string> decoded = DecodeBlob(response.blob(), check);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == image.substr(0, kChunk) || *decoded == image.substr(kChunk));

  std::string upper = digests[0];
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad : {std::string(""), std::string("abc"), upper, digests[0] + "0",
                                 std::string(64, 'g'), "../" + digests[0].substr(3)}) {
    EXPECT_EQ(GetChunk(*stub, "store", bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "'";
  }
  EXPECT_EQ(GetChunk(*stub, "../store", digests[0]).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetChunk(*stub, "other", digests[0]).error_code(), grpc::StatusCode::NOT_FOUND);
  const grpc::Status missing = GetChunk(*stub, "store", std::string(64, 'a'));
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();

  const v1::SnapshotRef snapshot = Ref("store", kSnapshot, "");
  for (const std::string& bad :
       {std::string(""), std::string("../index.json.blob"), std::string("index.json"),
        std::string("owner"), "../../../.chunks/" + digests[0].substr(0, 4) + "/" + digests[0],
        std::string("/etc/passwd.blob")}) {
    EXPECT_EQ(GetSnapshotFile(*stub, snapshot, bad).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "'";
  }
  v1::SnapshotRef traversal = snapshot;
  traversal.set_namespace_("../..");
  EXPECT_EQ(GetSnapshotFile(*stub, traversal, kArchive).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetSnapshotFile(*stub, snapshot, "drive-scsi1.img.fidx").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(GetSnapshotFile(*stub, snapshot, "index.json.blob").ok());
  v1::ListSnapshotsResponse listed;
  EXPECT_EQ(ListSnapshots(*stub, "..", &listed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(ListSnapshots(*stub, "store", &listed).ok());
  ASSERT_EQ(listed.snapshots_size(), 1);
  EXPECT_EQ(listed.snapshots(0).backup_id(), "100");
  EXPECT_EQ(listed.snapshots(0).archive(), "");

  // A chunk file damaged on disk is DATA_LOSS, and is never sent.
  const std::filesystem::path file = dir / "ds" / ".chunks" / digests[1].substr(0, 4) / digests[1];
  std::string stored = ReadFileBytes(file);
  stored[stored.size() / 2] ^= 1;
  WriteFileBytes(file, stored);
  v1::GetChunkResponse corrupt;
  const grpc::Status lost = GetChunk(*stub, "store", digests[1], &corrupt);
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::DATA_LOSS) << lost.error_message();
  EXPECT_TRUE(corrupt.blob().empty());
  EXPECT_EQ(
      Metric(*rack, "chunkcache_requests_total", {{"rpc", "GetChunk"}, {"code", "DATA_LOSS"}}), 1);
  EXPECT_NE(rack->Log().find("event=corrupt_chunk rpc=GetChunk"), std::string::npos) << rack->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

TEST(ServiceTieringTest, RemoteConfigurationErrors) {
  ScratchDir dir;
  const std::string chunkcached = ChunkcachedBinary().string();
  const std::string vectors = VectorPath("datastore").string();
  struct Case {
    std::string datastore_json;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {R"({"name": "s"})", "no path and no remote"},
      {absl::StrCat(R"({"name": "s", "path": ")", vectors,
                    R"(", "remote": {"target": "rack:7070"}})"),
       "both path and remote"},
      {R"({"name": "s", "remote": {}})", "datastores[0].remote.target"},
      {R"({"name": "s", "remote": {"target": "rack"}})", "has no port"},
      {R"({"name": "s", "remote": {"target": "rack:99999"}})", "valid port"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "datastore": "../x"}})",
       "datastores[0].remote.datastore"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "timeoutSeconds": -1}})",
       "timeout_seconds"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "certFile": "/c.pem"}})",
       "cert_file and key_file"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "certFile": "/c", "keyFile": "/k"}})",
       "needs TLS"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "tokenFile": "/nonexistent/t"}})",
       "remote.token_file"},
      {R"({"name": "s", "remote": {"target": "rack:7070", "bogus": 1}})", "bogus"},
  };
  for (const Case& c : cases) {
    WriteFileBytes(dir / "c.json", absl::StrCat(R"({"datastores": [)", c.datastore_json, "]}"));
    const ProcessResult result =
        RunProcess({chunkcached, "--config", (dir / "c.json").string(), "--check-config",
                    "--cache-dir", (dir / "cache").string()});
    EXPECT_NE(result.exit_code, 0) << c.datastore_json;
    EXPECT_NE(result.stderr_text.find(c.mentions), std::string::npos)
        << c.datastore_json << " should mention '" << c.mentions << "': " << result.stderr_text;
  }
  // A well-formed remote datastore checks out without contacting the remote.
  WriteFileBytes(dir / "ok.json",
                 R"({"datastores": [{"name": "s", "remote": {"target": "127.0.0.1:1"}}]})");
  const ProcessResult ok = RunProcess({chunkcached, "--config", (dir / "ok.json").string(),
                                       "--check-config", "--cache-dir", (dir / "cache").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.stderr_text;
}

}  // namespace
}  // namespace chunkcache::testing
