// Bad requests and damaged datastores: each answered with its status code and a message that
// says what is wrong, corrupt bytes are never returned, and the service keeps serving.
#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/chunk_index.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr char kPlain[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kEncrypted[] = "ns/enc/vm/100/2026-01-02T00:00:00Z";
constexpr char kDisk[] = "drive-scsi0.img.fidx";

// The chunk files of a fixed index, in index order.
std::vector<std::filesystem::path> ChunkFiles(const std::filesystem::path& datastore,
                                              const std::string& snapshot_dir) {
  const std::string index_bytes = ReadFileBytes(datastore / snapshot_dir / kDisk);
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(index_bytes);
  EXPECT_TRUE(index.ok()) << index.status();
  std::vector<std::filesystem::path> files;
  if (!index.ok()) return files;
  for (size_t i = 0; i < index->chunk_count(); ++i) {
    const std::string hex = index->digest(i).Hex();
    files.push_back(datastore / ".chunks" / hex.substr(0, 4) / hex);
  }
  return files;
}

// `ref` with its string field `field` (named as in the .proto) set to `value`.
v1::SnapshotRef WithField(v1::SnapshotRef ref, const std::string& field, const std::string& value) {
  const google::protobuf::FieldDescriptor* descriptor = ref.GetDescriptor()->FindFieldByName(field);
  EXPECT_NE(descriptor, nullptr) << field;
  if (descriptor != nullptr) ref.GetReflection()->SetString(&ref, descriptor, value);
  return ref;
}

class ServiceBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(4 * kChunk + 777, 5);
    WriteFileBytes(dir_ / "disk.img", image_);
    CreateKeyFile(dir_ / "key.json");
    CreateKeyFile(dir_ / "other-key.json");
    CreateArchive(dir_ / "ds", kPlain, kDisk, dir_ / "disk.img");
    CreateArchive(dir_ / "ds", kEncrypted, kDisk, dir_ / "disk.img", dir_ / "key.json");
  }

  std::unique_ptr<ChunkcachedProcess> StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--datastore", "store=" + (dir_ / "ds").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return ChunkcachedProcess::Start(args);
  }

  // Expects `status` to be `code` with a message containing `text`.
  static void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                           std::string_view text) {
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), absl::string_view(text.data(), text.size())))
        << status << " should mention: " << text;
  }

  // The service still answers a good read correctly.
  void ExpectStillServing(ChunkCacheClient& client) {
    absl::StatusOr<v1::ReadRangeResponse> good =
        client.ReadRange(Ref("store", kPlain, kDisk), 10, 100);
    ASSERT_TRUE(good.ok()) << good.status();
    EXPECT_TRUE(good->data() == image_.substr(10, 100));
  }

  ScratchDir dir_;
  std::string image_;
};

TEST_F(ServiceBadInputTest, UnknownNamesAreNotFound) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  ExpectStatus(client->ReadRange(Ref("nostore", kPlain, kDisk), 0, 1).status(),
               absl::StatusCode::kNotFound, "unknown datastore 'nostore'");
  ExpectStatus(client->ReadRange(Ref("store", "vm/999/2026-01-01T00:00:00Z", kDisk), 0, 1).status(),
               absl::StatusCode::kNotFound, "999");
  ExpectStatus(client->ReadRange(Ref("store", kPlain, "drive-scsi1.img.fidx"), 0, 1).status(),
               absl::StatusCode::kNotFound, "drive-scsi1.img.fidx");
  ExpectStatus(client->Stat(Ref("store", "ns/nope/vm/100/2026-01-01T00:00:00Z", kDisk)).status(),
               absl::StatusCode::kNotFound, "");
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, PathTraversalInEveryNameFieldIsInvalidArgument) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  const v1::SnapshotRef good = Ref("store", kPlain, kDisk);
  const std::vector<std::pair<std::string, std::vector<std::string>>> bad_values = {
      {"datastore", {"..", "../store", "store/..", "/etc", "a/../../b", ""}},
      {"namespace", {"..", "../..", "a/../../etc", "/abs", "a//b", "ns/../x"}},
      {"backup_type", {"..", "../vm", "vm/..", "VM", ""}},
      {"backup_id", {"..", "../100", "100/../..", "/100", ".hidden", ""}},
      {"archive",
       {"..", "../index.json.blob", "../../../etc/passwd.fidx", "x/../drive-scsi0.img.fidx",
        "/etc/passwd.fidx", "drive-scsi0.img", "", std::string("a\0b.fidx", 8)}},
  };
  std::vector<std::pair<std::string, v1::SnapshotRef>> bad;
  for (const auto& [field, values] : bad_values) {
    for (const std::string& value : values) {
      bad.emplace_back(field + " " + value, WithField(good, field, value));
    }
  }
  {
    v1::SnapshotRef ref = good;
    ref.set_backup_time(-1);
    bad.emplace_back("backup_time -1", ref);
  }
  for (const auto& [what, ref] : bad) {
    SCOPED_TRACE(what);
    absl::StatusOr<v1::ReadRangeResponse> reply = client->ReadRange(ref, 0, 1);
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument) << reply.status();
    absl::StatusOr<v1::SnapshotInfo> info = client->Stat(ref);
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << info.status();
  }
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, LengthsAndOffsetsOutsideTheRules) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer({"--max-read-bytes", "1MiB"});
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.max_read_bytes = 1 << 20;
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address(), options);
  const v1::SnapshotRef ref = Ref("store", kPlain, kDisk);
  ExpectStatus(client->ReadRange(ref, 0, 0).status(), absl::StatusCode::kInvalidArgument,
               "at least 1 byte");
  const absl::Status over = client->ReadRange(ref, 0, (1 << 20) + 1).status();
  ExpectStatus(over, absl::StatusCode::kInvalidArgument, "max_read_bytes of 1048576");
  ExpectStatus(over, absl::StatusCode::kInvalidArgument, "StreamRange");
  ExpectStatus(client->ReadRange(ref, image_.size(), 1).status(), absl::StatusCode::kOutOfRange,
               "past the end");
  // Extremes, sent with the raw stub (the client library refuses to send them).
  auto stub = v1::ChunkCache::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  auto raw_read = [&](uint64_t offset, uint64_t length) {
    grpc::ClientContext context;
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() = ref;
    request.set_offset(offset);
    request.set_length(length);
    v1::ReadRangeResponse response;
    const grpc::Status status = stub->ReadRange(&context, request, &response);
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  };
  ExpectStatus(raw_read(~uint64_t{0}, ~uint64_t{0}), absl::StatusCode::kInvalidArgument,
               "max_read_bytes");
  ExpectStatus(raw_read(~uint64_t{0}, 1), absl::StatusCode::kOutOfRange, "past the end");
  ExpectStatus(raw_read(image_.size() - 1, 1 << 20), absl::StatusCode::kOk, "");
  // Exactly the cap is fine, and a long range is what StreamRange is for.
  absl::StatusOr<v1::ReadRangeResponse> cap = client->ReadRange(ref, 5, 1 << 20);
  ASSERT_TRUE(cap.ok()) << cap.status();
  EXPECT_TRUE(cap->data() == image_.substr(5, 1 << 20));
  std::string streamed;
  absl::StatusOr<uint64_t> stream =
      client->StreamTo(ref, 3, 3 << 20, [&](uint64_t, std::string_view p) {
        streamed.append(p);
        return absl::OkStatus();
      });
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_TRUE(streamed == image_.substr(3, 3 << 20));
  // StreamRange past the end, too.
  absl::StatusOr<uint64_t> past = client->StreamTo(
      ref, image_.size() + 1, 10, [](uint64_t, std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(past.status().code(), absl::StatusCode::kOutOfRange) << past.status();
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, CorruptChunkIsDataLossAndNeverServed) {
  const std::vector<std::filesystem::path> chunks = ChunkFiles(dir_ / "ds", kPlain);
  ASSERT_EQ(chunks.size(), 5u);
  // Flip one byte in the middle of chunk 2's blob (a CRC mismatch).
  std::filesystem::permissions(chunks[2], std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::string blob = ReadFileBytes(chunks[2]);
  blob[blob.size() / 2] ^= 0x40;
  WriteFileBytes(chunks[2], blob);

  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  const v1::SnapshotRef ref = Ref("store", kPlain, kDisk);
  for (int attempt = 0; attempt < 2; ++attempt) {  // errors are not cached: fetched again
    SCOPED_TRACE(attempt);
    absl::StatusOr<v1::ReadRangeResponse> reply = client->ReadRange(ref, 2 * kChunk - 10, 20);
    ASSERT_FALSE(reply.ok());
    ExpectStatus(reply.status(), absl::StatusCode::kDataLoss, "CRC");
    absl::StatusOr<uint64_t> streamed = client->StreamTo(
        ref, 0, image_.size(), [](uint64_t, std::string_view) { return absl::OkStatus(); });
    EXPECT_EQ(streamed.status().code(), absl::StatusCode::kDataLoss) << streamed.status();
  }
  // The good chunks around it are served.
  absl::StatusOr<v1::ReadRangeResponse> before = client->ReadRange(ref, kChunk, kChunk);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(before->data() == image_.substr(kChunk, kChunk));
  absl::StatusOr<v1::ReadRangeResponse> after = client->ReadRange(ref, 3 * kChunk, kChunk);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->data() == image_.substr(3 * kChunk, kChunk));

  EXPECT_GE(server->Metric("chunkcache_decode_errors_total", {{"reason", "crc"}}).value_or(0), 2);
  EXPECT_GE(server
                ->Metric("chunkcache_upstream_fetches_total",
                         {{"datastore", "store"}, {"result", "corrupt"}})
                .value_or(0),
            2);
  EXPECT_EQ(
      server->Metric("chunkcache_requests_total", {{"rpc", "ReadRange"}, {"code", "DATA_LOSS"}}),
      2);
  // The log names the chunk and its file.
  const std::string log = server->Log();
  EXPECT_NE(log.find("event=corrupt_chunk"), std::string::npos) << log;
  EXPECT_NE(log.find(chunks[2].filename().string()), std::string::npos) << log;
  EXPECT_NE(log.find(chunks[2].string()), std::string::npos) << log;
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, MissingChunkFileIsNotFoundNamingTheChunk) {
  const std::vector<std::filesystem::path> chunks = ChunkFiles(dir_ / "ds", kPlain);
  ASSERT_EQ(chunks.size(), 5u);
  std::filesystem::remove(chunks[3]);
  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  absl::StatusOr<v1::ReadRangeResponse> reply =
      client->ReadRange(Ref("store", kPlain, kDisk), 3 * kChunk + 5, 10);
  ExpectStatus(reply.status(), absl::StatusCode::kNotFound,
               chunks[3].filename().string().substr(0, 8));
  EXPECT_NE(server->Log().find("event=upstream_error"), std::string::npos) << server->Log();
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, EncryptedArchiveWithoutOrWithTheWrongKey) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> servers = {
      {"no key configured", {}},
      {"the wrong key", {"--keyfile", "store=" + (dir_ / "other-key.json").string()}},
  };
  for (const auto& [what, flags] : servers) {
    SCOPED_TRACE(what);
    std::unique_ptr<ChunkcachedProcess> server = StartServer(flags);
    ASSERT_NE(server, nullptr);
    std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
    absl::StatusOr<v1::ReadRangeResponse> reply =
        client->ReadRange(Ref("store", kEncrypted, kDisk), 0, 10);
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << reply.status();
    EXPECT_TRUE(absl::StrContains(reply.status().message(), "key")) << reply.status();
    // The plain snapshot in the same datastore is unaffected by the key.
    ExpectStillServing(*client);
    EXPECT_EQ(server->Stop(SIGTERM), 0);
  }
}

TEST_F(ServiceBadInputTest, ExpiredDeadlineIsDeadlineExceededAndServingGoesOn) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.rpc_deadline = std::chrono::milliseconds(1);
  std::unique_ptr<ChunkCacheClient> hurried = ConnectClient(server->address(), options);
  // A cold read of four chunks cannot be fetched, decoded and sent within a millisecond.
  absl::StatusOr<v1::ReadRangeResponse> reply =
      hurried->ReadRange(Ref("store", kPlain, kDisk), 100, 4 << 20);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  absl::StatusOr<std::string> whole = client->Read(Ref("store", kPlain, kDisk), 0, image_.size());
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(*whole == image_);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(ServiceBadInputTest, GarbageRequestBytesAreInvalidArgument) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  // A raw call with bytes that are not a ReadRangeRequest (a truncated length-delimited field).
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  const std::string garbage("\x0a\xff\xff\xff\x0f\x01", 6);
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&context, "/chunkcache.v1.ChunkCache/ReadRange", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = std::move(s);
                      done = true;
                      done_cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  done_cv.wait(lock, [&] { return done; });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  ExpectStillServing(*client);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace chunkcache::testing
