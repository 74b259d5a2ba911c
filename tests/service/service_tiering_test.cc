// Tiering end to end on loopback: a rack-level chunkcached on a datastore directory, node-level
// chunkcached processes whose datastore is `remote` (GrpcUpstream → the rack's GetChunk,
// GetSnapshotFile, ListSnapshots), read with the C++ client. Also: the node names each chunk's
// crypt mode, so a keyed rack reads it once in that mode, and checks an encrypted archive's
// plaintext by its keyed digest; the node verifies what the rack sends (a lying rack, a gRPC
// server in this test, gets DATA_LOSS and nothing cached), a rack that is down or hangs, tokens
// between the tiers, and the new RPCs' errors (and requests without a crypt mode, as older nodes
// send them).
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "format/blob.h"
#include "tests/service/service_test_env.h"
#include "upstream/datastore_upstream.h"
#include "upstream/key_source.h"

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

// A keyed datastore's pieces: dir/key.json as the --keyfile of datastore "store".
std::string StoreKeyfile(const ScratchDir& dir) { return "store=" + (dir / "key.json").string(); }

// A rack serving dir/ds as datastore "store" with the key of dir/key.json.
std::unique_ptr<ChunkcachedProcess> StartKeyedRack(const ScratchDir& dir,
                                                   const std::string& cache_bytes = "256MiB") {
  return ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string(), "--keyfile",
                                    StoreKeyfile(dir), "--cache-bytes", cache_bytes});
}

// A keyed rack on dir/ds and a node that holds the same key and reads "store" through it.
void StartKeyedRackAndNode(const ScratchDir& dir, std::unique_ptr<ChunkcachedProcess>* rack,
                           std::unique_ptr<ChunkcachedProcess>* node) {
  *rack = StartKeyedRack(dir);
  ASSERT_NE(*rack, nullptr);
  *node = StartNode(dir, "node", (*rack)->address(), "", {"--keyfile", StoreKeyfile(dir)});
  ASSERT_NE(*node, nullptr);
}

// A 4 MiB chunk's blob is larger than gRPC's default 4 MiB message limit.
std::unique_ptr<v1::ChunkCache::Stub> RawStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return v1::ChunkCache::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

// `crypt_mode` empty: a request without one, as nodes before GetChunkRequest.crypt_mode send.
grpc::Status GetChunk(v1::ChunkCache::Stub& stub, const std::string& datastore,
                      const std::string& digest, v1::GetChunkResponse* response = nullptr,
                      const std::string& token = "", const std::string& crypt_mode = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::GetChunkRequest request;
  request.set_datastore(datastore);
  request.set_digest(digest);
  request.set_crypt_mode(crypt_mode);
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

// The digests of the chunks in a datastore directory.
std::vector<std::string> ChunkDigests(const std::filesystem::path& datastore) {
  std::vector<std::string> digests;
  for (const auto& prefix : std::filesystem::directory_iterator(datastore / ".chunks")) {
    for (const auto& chunk : std::filesystem::directory_iterator(prefix.path())) {
      digests.push_back(chunk.path().filename().string());
    }
  }
  return digests;
}

// The bytes of the chunk files in a datastore directory: what reading each once costs.
uint64_t StoredChunkBytes(const std::filesystem::path& datastore) {
  uint64_t bytes = 0;
  for (const std::string& digest : ChunkDigests(datastore)) {
    bytes += std::filesystem::file_size(datastore / ".chunks" / digest.substr(0, 4) / digest);
  }
  return bytes;
}

// Whether the stored chunk `digest` is encrypted.
bool StoredEncrypted(const std::filesystem::path& datastore, const std::string& digest) {
  const std::string blob = ReadFileBytes(datastore / ".chunks" / digest.substr(0, 4) / digest);
  return IsEncrypted(PeekBlobKind(blob).value_or(BlobKind::kPlain));
}

double DecodeErrors(const ChunkcachedProcess& server, const std::string& reason) {
  return Metric(server, "chunkcache_decode_errors_total", {{"reason", reason}});
}

double UpstreamBytes(const ChunkcachedProcess& server) {
  return Metric(server, "chunkcache_upstream_bytes_total", {{"datastore", "store"}});
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
  std::unique_ptr<ChunkcachedProcess> rack, node;
  ASSERT_NO_FATAL_FAILURE(StartKeyedRackAndNode(dir, &rack, &node));
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

// A keyed rack reads each chunk once, in the crypt mode the node names (no guess, no false
// format error), and the node accepts an encrypted archive's plaintext by its keyed digest:
// what its cache decodes is the rack's plain blob (12-byte header) as received, not a blob
// re-encrypted on the node (44-byte header), which chunkcache_upstream_bytes_total counts.
TEST(ServiceTieringTest, KeyedRackReadsEachChunkOnceInTheModeTheNodeNames) {
  ScratchDir dir;
  CreateKeyFile(dir / "key.json");
  const std::string plain = PseudoRandomBytes(kChunk + 77, 33);
  const std::string secret = PseudoRandomBytes(2 * kChunk + 5000, 34);
  WriteFileBytes(dir / "plain.img", plain);
  WriteFileBytes(dir / "secret.img", secret);
  CreateArchive(dir / "ds", "vm/2/2026-01-01T00:00:00Z", kArchive, dir / "plain.img");
  std::unique_ptr<ChunkcachedProcess> rack, node;
  ASSERT_NO_FATAL_FAILURE(StartKeyedRackAndNode(dir, &rack, &node));
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(node->address());

  // The plain archive: two chunks, each read once from the datastore as a plain chunk.
  absl::StatusOr<std::string> got_plain =
      client->Read(Ref("store", "vm/2/2026-01-01T00:00:00Z", kArchive), 0, plain.size());
  ASSERT_TRUE(got_plain.ok()) << got_plain.status();
  EXPECT_TRUE(*got_plain == plain);
  EXPECT_EQ(Fetches(*rack, "ok"), 2);
  EXPECT_EQ(Fetches(*rack, "corrupt"), 0);
  EXPECT_EQ(DecodeErrors(*rack, "format"), 0);
  EXPECT_EQ(UpstreamBytes(*rack), static_cast<double>(StoredChunkBytes(dir / "ds")))
      << "the rack read each chunk file once";

  // The encrypted archive: three chunks, read once as encrypted chunks; the node checks their
  // plaintext against the keyed digest.
  CreateArchive(dir / "ds", "vm/1/2026-01-01T00:00:00Z", kArchive, dir / "secret.img",
                dir / "key.json");
  absl::StatusOr<std::string> got_secret =
      client->Read(Ref("store", "vm/1/2026-01-01T00:00:00Z", kArchive), 0, secret.size());
  ASSERT_TRUE(got_secret.ok()) << got_secret.status();
  EXPECT_TRUE(*got_secret == secret);
  EXPECT_EQ(Fetches(*rack, "ok"), 5);
  EXPECT_EQ(Fetches(*rack, "corrupt"), 0);
  EXPECT_EQ(DecodeErrors(*rack, "format"), 0);
  EXPECT_EQ(UpstreamBytes(*rack), static_cast<double>(StoredChunkBytes(dir / "ds")));

  EXPECT_EQ(Fetches(*node, "ok"), 5);
  EXPECT_EQ(Fetches(*node, "corrupt"), 0);
  for (const char* reason : {"format", "crc", "decrypt", "digest"}) {
    EXPECT_EQ(DecodeErrors(*node, reason), 0) << reason;
  }
  constexpr uint64_t kPlainBlobHeader = 12;
  EXPECT_EQ(UpstreamBytes(*node),
            static_cast<double>(plain.size() + secret.size() + 5 * kPlainBlobHeader))
      << "the node decoded each chunk as the rack's plain blob";
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
}

// What nodes without GetChunkRequest.crypt_mode send still works (the rack guesses the mode,
// at the documented cost for plain chunks), and a crypt mode the rack cannot honour is refused.
TEST(ServiceTieringTest, GetChunkWithAndWithoutACryptMode) {
  ScratchDir dir;
  CreateKeyFile(dir / "key.json");
  const std::string plain = PseudoRandomBytes(2 * kChunk, 35);
  const std::string secret = PseudoRandomBytes(kChunk, 36);
  WriteFileBytes(dir / "plain.img", plain);
  WriteFileBytes(dir / "secret.img", secret);
  CreateArchive(dir / "ds", "vm/2/2026-01-01T00:00:00Z", kArchive, dir / "plain.img");
  CreateArchive(dir / "ds", "vm/1/2026-01-01T00:00:00Z", kArchive, dir / "secret.img",
                dir / "key.json");
  std::vector<std::string> plain_digests;
  std::string secret_digest;
  for (const std::string& digest : ChunkDigests(dir / "ds")) {
    if (StoredEncrypted(dir / "ds", digest)) {
      secret_digest = digest;
    } else {
      plain_digests.push_back(digest);
    }
  }
  ASSERT_EQ(plain_digests.size(), 2u);
  ASSERT_FALSE(secret_digest.empty());
  std::unique_ptr<ChunkcachedProcess> rack = StartKeyedRack(dir);
  ASSERT_NE(rack, nullptr);
  std::unique_ptr<v1::ChunkCache::Stub> stub = RawStub(rack->address());
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(dir / "key.json", {});
  ASSERT_TRUE(key.ok()) << key.status();

  // Without a crypt mode: an encrypted chunk is read as one, a plain chunk as encrypted first
  // (one format error) and then as plain.
  v1::GetChunkResponse response;
  ASSERT_TRUE(GetChunk(*stub, "store", secret_digest, &response).ok());
  absl::StatusOr<std::string> decoded =
      DecodeBlob(response.blob(), {.key = &*key,
                                   .expected_digest = *ChunkDigest::FromHex(secret_digest),
                                   .expected_mode = CryptMode::kEncrypt,
                                   .accept_verified_plaintext = true});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == secret);
  ASSERT_TRUE(GetChunk(*stub, "store", plain_digests[0], &response).ok());
  decoded = DecodeBlob(response.blob(), {.expected_digest = *ChunkDigest::FromHex(plain_digests[0]),
                                         .expected_mode = CryptMode::kNone});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(DecodeErrors(*rack, "format"), 1);
  EXPECT_EQ(Fetches(*rack, "ok"), 2);
  EXPECT_EQ(Fetches(*rack, "corrupt"), 1);

  // With one: the other plain chunk costs one read and no error.
  ASSERT_TRUE(GetChunk(*stub, "store", plain_digests[1], &response, "", "none").ok());
  decoded = DecodeBlob(response.blob(), {.expected_digest = *ChunkDigest::FromHex(plain_digests[1]),
                                         .expected_mode = CryptMode::kNone});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(DecodeErrors(*rack, "format"), 1);
  EXPECT_EQ(Fetches(*rack, "ok"), 3);
  EXPECT_EQ(Fetches(*rack, "corrupt"), 1);
  // Cached chunks are served in the mode named, and by guessing.
  EXPECT_TRUE(GetChunk(*stub, "store", secret_digest, nullptr, "", "encrypt").ok());
  EXPECT_TRUE(GetChunk(*stub, "store", plain_digests[0], nullptr, "", "sign-only").ok());
  EXPECT_TRUE(GetChunk(*stub, "store", plain_digests[1]).ok());
  EXPECT_EQ(Fetches(*rack, "ok"), 3);

  // The wrong mode is read in that mode only: DATA_LOSS, never the chunk read the other way.
  EXPECT_EQ(GetChunk(*stub, "store", plain_digests[0], nullptr, "", "encrypt").error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(GetChunk(*stub, "store", secret_digest, nullptr, "", "none").error_code(),
            grpc::StatusCode::DATA_LOSS);
  const grpc::Status unknown = GetChunk(*stub, "store", secret_digest, nullptr, "", "Encrypt");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << unknown.error_message();
  EXPECT_NE(unknown.error_message().find("crypt_mode"), std::string::npos)
      << unknown.error_message();
  EXPECT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();

  // A rack without the key refuses "encrypt" before reading anything.
  std::unique_ptr<ChunkcachedProcess> keyless = ChunkcachedProcess::Start(
      {"--datastore", "store=" + (dir / "ds").string(), "--cache-bytes", "64MiB"});
  ASSERT_NE(keyless, nullptr);
  stub = RawStub(keyless->address());
  const grpc::Status no_key = GetChunk(*stub, "store", secret_digest, nullptr, "", "encrypt");
  EXPECT_EQ(no_key.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << no_key.error_message();
  EXPECT_NE(no_key.error_message().find("has no key"), std::string::npos) << no_key.error_message();
  EXPECT_EQ(Fetches(*keyless, "ok") + Fetches(*keyless, "corrupt"), 0);
  EXPECT_EQ(GetChunk(*stub, "store", secret_digest).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(GetChunk(*stub, "store", plain_digests[0], nullptr, "", "none").ok());
  EXPECT_EQ(keyless->Stop(SIGTERM), 0) << keyless->Log();
}

// A rack that lies about chunks (or hangs) but serves the snapshot files truthfully. With `key`
// it can decrypt the datastore's encrypted chunks, as a real rack with the key does.
class LyingRack final : public v1::ChunkCache::CallbackService {
 public:
  enum class Lie { kNone, kBadCrc, kOtherData, kHang };

  explicit LyingRack(std::shared_ptr<Upstream> truth,
                     std::shared_ptr<const CryptConfig> key = nullptr)
      : truth_(std::move(truth)), key_(std::move(key)) {}

  std::atomic<Lie> lie{Lie::kBadCrc};
  std::atomic<int> get_chunk_calls{0};

  // GetChunk calls by the crypt mode they named ("" for none).
  std::map<std::string, int> crypt_modes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return crypt_modes_;
  }

  grpc::ServerUnaryReactor* GetChunk(grpc::CallbackServerContext* context,
                                     const v1::GetChunkRequest* request,
                                     v1::GetChunkResponse* response) override {
    ++get_chunk_calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++crypt_modes_[request->crypt_mode()];
    }
    if (lie == Lie::kHang) return new HangingReactor();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<ChunkDigest> digest = ChunkDigest::FromHex(request->digest());
    absl::StatusOr<std::string> raw =
        digest.ok() ? truth_->ReadChunk(*digest) : absl::StatusOr<std::string>(digest.status());
    absl::StatusOr<std::string> plaintext = raw.ok() ? DecodeBlob(*raw, {.key = key_.get()})
                                                     : absl::StatusOr<std::string>(raw.status());
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
  std::shared_ptr<const CryptConfig> key_;
  mutable std::mutex mu_;
  std::map<std::string, int> crypt_modes_;
};

// Serves `rack` (and the default health service) on a free loopback port, written to *port.
std::unique_ptr<grpc::Server> StartFakeRack(LyingRack& rack, int* port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(&rack);
  return builder.BuildAndStart();
}

TEST(ServiceTieringTest, NodeVerifiesWhatTheRackSendsAndGivesUpOnAHangingRack) {
  ScratchDir dir;
  const std::string image = PseudoRandomBytes(kChunk, 41);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "disk.img");
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> truth = DatastoreUpstream::Open(dir / "ds");
  ASSERT_TRUE(truth.ok()) << truth.status();
  LyingRack lying(std::shared_ptr<Upstream>(*std::move(truth)));
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartFakeRack(lying, &port);
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
  // The node named the plain archive's crypt mode in every call.
  EXPECT_EQ(lying.crypt_modes(), (std::map<std::string, int>{{"none", 4}}));

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

// An encrypted archive's chunks come from the rack as plaintext: the node accepts them only with
// the keyed digest, SHA-256(plaintext ‖ id_key), which a rack cannot forge for other bytes, and
// only from a rack.
TEST(ServiceTieringTest, NodeChecksTheKeyedDigestOfAnEncryptedArchivesPlaintext) {
  ScratchDir dir;
  CreateKeyFile(dir / "key.json");
  const std::string secret = PseudoRandomBytes(kChunk, 42);
  WriteFileBytes(dir / "secret.img", secret);
  CreateArchive(dir / "ds", kSnapshot, kArchive, dir / "secret.img", dir / "key.json");
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> truth = DatastoreUpstream::Open(dir / "ds");
  ASSERT_TRUE(truth.ok()) << truth.status();
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(dir / "key.json", {});
  ASSERT_TRUE(key.ok()) << key.status();
  LyingRack lying(std::shared_ptr<Upstream>(*std::move(truth)),
                  std::make_shared<const CryptConfig>(*key));
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartFakeRack(lying, &port);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkcachedProcess> node =
      StartNode(dir, "node", absl::StrCat("127.0.0.1:", port), "",
                {"--no-readahead", "--keyfile", StoreKeyfile(dir)});
  ASSERT_NE(node, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(node->address());

  for (LyingRack::Lie lie : {LyingRack::Lie::kBadCrc, LyingRack::Lie::kOtherData}) {
    lying.lie = lie;
    const int calls_before = lying.get_chunk_calls;
    absl::StatusOr<std::string> bytes = ReadArchive(*node, 4096);
    EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss) << bytes.status();
    EXPECT_EQ(lying.get_chunk_calls, calls_before + 1);
  }
  EXPECT_EQ(Fetches(*node, "corrupt"), 2);
  EXPECT_EQ(DecodeErrors(*node, "crc"), 1);
  EXPECT_EQ(DecodeErrors(*node, "digest"), 1);

  // The truth, as a rack sends it: the plaintext in a plain blob, accepted and cached.
  lying.lie = LyingRack::Lie::kNone;
  absl::StatusOr<std::string> bytes = ReadArchive(*node, secret.size());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == secret);
  bytes = ReadArchive(*node, secret.size());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Fetches(*node, "ok"), 1);
  EXPECT_EQ(lying.get_chunk_calls, 3);
  EXPECT_EQ(DecodeErrors(*node, "format"), 0);
  // The node named the archive's crypt mode in every call.
  EXPECT_EQ(lying.crypt_modes(), (std::map<std::string, int>{{"encrypt", 3}}));
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));

  // The same form read from a datastore is refused: there, an encrypted archive's chunk must be
  // stored encrypted, even when the plaintext has the right keyed digest.
  const std::vector<std::string> digests = ChunkDigests(dir / "ds");
  ASSERT_EQ(digests.size(), 1u);
  WriteFileBytes(dir / "ds" / ".chunks" / digests[0].substr(0, 4) / digests[0],
                 *EncodeBlob(secret, {.compress = false}));
  std::unique_ptr<ChunkcachedProcess> direct = StartKeyedRack(dir, "64MiB");
  ASSERT_NE(direct, nullptr);
  bytes = ReadArchive(*direct, 4096);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss) << bytes.status();
  EXPECT_EQ(DecodeErrors(*direct, "format"), 1);
  EXPECT_EQ(direct->Stop(SIGTERM), 0) << direct->Log();
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

TEST(ServiceTieringTest, MutualTlsBetweenTiers) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl"));
  ScratchDir dir;
  MakeTestCa(dir.path(), "ca");
  MakeTestCert(dir.path(), "ca", "rack", "/CN=rack",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  MakeTestCert(dir.path(), "ca", "node-a", "/CN=node-a", "extendedKeyUsage=clientAuth");
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
  for (const std::string& bad :
       {std::string("ENCRYPT"), std::string("plain"), std::string(" "), std::string("none\n")}) {
    EXPECT_EQ(GetChunk(*stub, "store", digests[0], nullptr, "", bad).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << "crypt mode '" << bad << "'";
  }

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
      {R"({"name": "s"})", "no path, remote or pbs"},
      {absl::StrCat(R"({"name": "s", "path": ")", vectors,
                    R"(", "remote": {"target": "rack:7070"}})"),
       "more than one of path, remote and pbs"},
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
