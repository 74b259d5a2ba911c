// chunkcached end to end: a datastore built by the test (fixed and dynamic archives, plain and
// encrypted) served by a real chunkcached and read back with the C++ client library and the
// chunkcache CLI, byte for byte against the source; and the shared vectors datastore.
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;

struct ArchiveCase {
  std::string name;
  std::string snapshot;
  std::string archive;
  const std::string* source;
  bool encrypted;
  bool fixed;
};

class ServiceEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new ScratchDir();
    // Three full chunks and a short one; the stream splits into content-defined chunks.
    image_ = new std::string(PseudoRandomBytes(3 * kChunk + 5000, 1));
    stream_ = new std::string(PseudoRandomBytes(9 * 1000 * 1000 + 17, 2));
    const std::filesystem::path dir = scratch_->path();
    WriteFileBytes(dir / "disk.img", *image_);
    WriteFileBytes(dir / "files.pxar", *stream_);
    CreateKeyFile(dir / "key.json");
    CreateArchive(dir / "ds", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
                  dir / "disk.img");
    CreateArchive(dir / "ds", "ns/enc/vm/100/2026-01-02T00:00:00Z", "drive-scsi0.img.fidx",
                  dir / "disk.img", dir / "key.json");
    CreateArchive(dir / "ds", "host/files/2026-01-03T00:00:00Z", "root.pxar.didx",
                  dir / "files.pxar");
    CreateArchive(dir / "ds", "ns/enc/host/files/2026-01-04T00:00:00Z", "root.pxar.didx",
                  dir / "files.pxar", dir / "key.json");
    server_ = ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string(),
                                         "--keyfile", "store=" + (dir / "key.json").string()})
                  .release();
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
    }
    delete server_;
    delete image_;
    delete stream_;
    delete scratch_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client_ = ConnectClient(server_->address());
    ASSERT_NE(client_, nullptr);
  }

  static std::vector<ArchiveCase> Cases() {
    return {
        {"fixed plain", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", image_, false, true},
        {"fixed encrypted", "ns/enc/vm/100/2026-01-02T00:00:00Z", "drive-scsi0.img.fidx", image_,
         true, true},
        {"dynamic plain", "host/files/2026-01-03T00:00:00Z", "root.pxar.didx", stream_, false,
         false},
        {"dynamic encrypted", "ns/enc/host/files/2026-01-04T00:00:00Z", "root.pxar.didx", stream_,
         true, false},
    };
  }

  ProcessResult RunCli(std::vector<std::string> args) {
    args.insert(args.begin(), ChunkcacheBinary().string());
    args.insert(args.end(), {"--server", server_->address(), "--datastore", "store"});
    return RunProcess(args);
  }

  static ScratchDir* scratch_;
  static std::string* image_;
  static std::string* stream_;
  static ChunkcachedProcess* server_;
  std::unique_ptr<ChunkCacheClient> client_;
};

ScratchDir* ServiceEndToEndTest::scratch_ = nullptr;
std::string* ServiceEndToEndTest::image_ = nullptr;
std::string* ServiceEndToEndTest::stream_ = nullptr;
ChunkcachedProcess* ServiceEndToEndTest::server_ = nullptr;

TEST_F(ServiceEndToEndTest, WholeArchivesByReadRangeMatchTheSource) {
  for (const ArchiveCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> bytes =
        client_->Read(Ref("store", c.snapshot, c.archive), 0, c.source->size() + 1000);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->size(), c.source->size());
    EXPECT_TRUE(*bytes == *c.source);
  }
}

TEST_F(ServiceEndToEndTest, WholeArchivesByStreamRangeMatchTheSource) {
  for (const ArchiveCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::string bytes;
    absl::StatusOr<uint64_t> streamed =
        client_->StreamTo(Ref("store", c.snapshot, c.archive), 0, c.source->size(),
                          [&](uint64_t, std::string_view piece) {
                            bytes.append(piece);
                            return absl::OkStatus();
                          });
    ASSERT_TRUE(streamed.ok()) << streamed.status();
    EXPECT_EQ(*streamed, c.source->size());
    EXPECT_TRUE(bytes == *c.source);
  }
}

TEST_F(ServiceEndToEndTest, StreamRangeWithLengthZeroStreamsToTheEndInCappedMessages) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  auto channel =
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::ChunkCache::NewStub(channel);
  grpc::ClientContext context;
  v1::ReadRangeRequest request;
  *request.mutable_snapshot() = Ref("store", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx");
  request.set_offset(kChunk - 7);
  request.set_length(0);
  auto reader = stub->StreamRange(&context, request);
  v1::ReadRangeResponse message;
  std::string bytes;
  bool last_eof = false;
  int messages = 0;
  while (reader->Read(&message)) {
    EXPECT_EQ(message.offset(), kChunk - 7 + bytes.size());
    EXPECT_LE(message.data().size(), kChunk);
    EXPECT_FALSE(last_eof) << "a message after the one with eof";
    bytes += message.data();
    last_eof = message.eof();
    ++messages;
  }
  const grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(last_eof);
  EXPECT_GE(messages, 3);
  EXPECT_TRUE(bytes == image_->substr(kChunk - 7));
}

TEST_F(ServiceEndToEndTest, RangesAtChunkBoundariesAndTheEnd) {
  const uint64_t size = image_->size();
  struct Range {
    uint64_t offset;
    uint64_t length;
  };
  const std::vector<Range> ranges = {{0, 1},
                                     {kChunk - 1, 1},
                                     {kChunk - 1, 2},
                                     {kChunk, 4096},
                                     {kChunk - 10, 20},
                                     {2 * kChunk - 5, kChunk},
                                     {3 * kChunk, 5000},
                                     {3 * kChunk - 1, 5001},
                                     {size - 1, 1},
                                     {size - 10, 100},
                                     {size - 4999, kChunk}};
  for (const ArchiveCase& c : Cases()) {
    if (!c.fixed) continue;
    for (const Range& range : ranges) {
      SCOPED_TRACE(absl::StrCat(c.name, " offset ", range.offset, " length ", range.length));
      absl::StatusOr<v1::ReadRangeResponse> reply =
          client_->ReadRange(Ref("store", c.snapshot, c.archive), range.offset, range.length);
      ASSERT_TRUE(reply.ok()) << reply.status();
      const uint64_t expected_length = std::min(range.length, size - range.offset);
      EXPECT_EQ(reply->offset(), range.offset);
      EXPECT_EQ(reply->data().size(), expected_length);
      EXPECT_TRUE(reply->data() == image_->substr(range.offset, expected_length));
      EXPECT_EQ(reply->eof(), range.offset + expected_length == size);
    }
  }
}

TEST_F(ServiceEndToEndTest, DynamicArchiveRangesMatchTheSource) {
  const uint64_t size = stream_->size();
  for (uint64_t offset : {uint64_t{0}, uint64_t{1} << 20, uint64_t{3333333}, size / 2,
                          size - (uint64_t{3} << 20), size - 1}) {
    for (const ArchiveCase& c : Cases()) {
      if (c.fixed) continue;
      SCOPED_TRACE(absl::StrCat(c.name, " offset ", offset));
      absl::StatusOr<v1::ReadRangeResponse> reply =
          client_->ReadRange(Ref("store", c.snapshot, c.archive), offset, kChunk);
      ASSERT_TRUE(reply.ok()) << reply.status();
      const uint64_t expected = std::min(kChunk, size - offset);
      EXPECT_TRUE(reply->data() == stream_->substr(offset, expected));
      EXPECT_EQ(reply->eof(), offset + expected == size);
    }
  }
}

TEST_F(ServiceEndToEndTest, OffsetAtOrPastTheEndIsOutOfRange) {
  for (const ArchiveCase& c : Cases()) {
    for (uint64_t past : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40}) {
      SCOPED_TRACE(absl::StrCat(c.name, " past ", past));
      absl::StatusOr<v1::ReadRangeResponse> reply =
          client_->ReadRange(Ref("store", c.snapshot, c.archive), c.source->size() + past, 10);
      ASSERT_FALSE(reply.ok());
      EXPECT_EQ(reply.status().code(), absl::StatusCode::kOutOfRange) << reply.status();
      EXPECT_NE(reply.status().message().find("past the end"), absl::string_view::npos);
    }
  }
}

TEST_F(ServiceEndToEndTest, StatDescribesEachArchive) {
  for (const ArchiveCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<v1::SnapshotInfo> info = client_->Stat(Ref("store", c.snapshot, c.archive));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->size(), c.source->size());
    EXPECT_EQ(info->crypt_mode(), c.encrypted ? "encrypt" : "none");
    EXPECT_EQ(info->index_csum().size(), 64u);
    if (c.fixed) {
      EXPECT_EQ(info->chunk_size(), kChunk);
      EXPECT_EQ(info->chunk_count(), 4u);
      EXPECT_EQ(info->distinct_chunks(), 4u);
    } else {
      EXPECT_EQ(info->chunk_size(), 0u);
      EXPECT_GE(info->chunk_count(), 1u);
    }
  }
}

TEST_F(ServiceEndToEndTest, PrefetchQueuesChunksThatLaterReadsFind) {
  const v1::SnapshotRef ref = Ref("store", "host/files/2026-01-03T00:00:00Z", "root.pxar.didx");
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::ChunkCache::NewStub(channel);
  grpc::ClientContext context;
  v1::PrefetchRequest request;
  *request.mutable_snapshot() = ref;
  v1::ByteRange* range = request.add_ranges();
  range->set_offset(0);
  range->set_length(stream_->size());
  v1::PrefetchResponse response;
  const grpc::Status status = stub->Prefetch(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(response.chunks_requested() + response.chunks_already_cached(), 1u);
  absl::StatusOr<std::string> bytes = client_->Read(ref, 0, stream_->size());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == *stream_);
}

TEST_F(ServiceEndToEndTest, CliReadRestoreAndStat) {
  for (const ArchiveCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    const uint64_t offset = c.fixed ? kChunk - 100 : 1234567;
    ProcessResult read = RunCli({"read", "--snapshot", c.snapshot, "--archive", c.archive,
                                 "--offset", std::to_string(offset), "--length", "6MiB"});
    ASSERT_EQ(read.exit_code, 0) << read.stderr_text;
    EXPECT_TRUE(read.stdout_text == c.source->substr(offset, 6 << 20));

    const std::filesystem::path out = scratch_->path() / "restored.bin";
    ProcessResult restore = RunCli({"restore", "--snapshot", c.snapshot, "--archive", c.archive,
                                    "--out", out.string(), "--sha256", "--no-progress"});
    ASSERT_EQ(restore.exit_code, 0) << restore.stderr_text;
    EXPECT_TRUE(ReadFileBytes(out) == *c.source);
    EXPECT_NE((restore.stdout_text + restore.stderr_text).find(Sha256Hex(*c.source)),
              std::string::npos)
        << restore.stdout_text << restore.stderr_text;
    std::filesystem::remove(out);

    ProcessResult stat =
        RunCli({"stat", "--snapshot", c.snapshot, "--archive", c.archive, "--json"});
    ASSERT_EQ(stat.exit_code, 0) << stat.stderr_text;
    EXPECT_NE(stat.stdout_text.find(std::to_string(c.source->size())), std::string::npos)
        << stat.stdout_text;
    EXPECT_NE(stat.stdout_text.find(c.encrypted ? "\"encrypt\"" : "\"none\""), std::string::npos)
        << stat.stdout_text;
  }
}

TEST_F(ServiceEndToEndTest, CliReadPastTheEndFailsWithOutOfRange) {
  ProcessResult read =
      RunCli({"read", "--snapshot", "vm/100/2026-01-01T00:00:00Z", "--archive",
              "drive-scsi0.img.fidx", "--offset", std::to_string(image_->size()), "--length", "1"});
  EXPECT_NE(read.exit_code, 0);
  EXPECT_NE(read.stderr_text.find("OUT_OF_RANGE"), std::string::npos) << read.stderr_text;
}

// The shared vectors: the same VM image stored plain and encrypted (spec/vectors/README.md).
TEST(ServiceVectorsTest, PlainAndEncryptedVmImagesHaveTheKnownHash) {
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--datastore", "vectors=" + VectorPath("datastore").string(), "--keyfile",
       "vectors=" + VectorPath("keys/key-none.json").string()});
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  for (const std::string snapshot :
       {"vm/100/2026-01-01T00:00:00Z", "ns/enc/vm/100/2026-01-02T00:00:00Z"}) {
    SCOPED_TRACE(snapshot);
    absl::StatusOr<std::string> image =
        client->Read(Ref("vectors", snapshot, "drive-scsi0.img.fidx"), 0, 16782216);
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->size(), 16782216u);
    EXPECT_EQ(Sha256Hex(*image),
              "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061");
  }
  // The dynamic pxar archive: its last byte and a read across its first chunk boundary.
  const v1::SnapshotRef pxar = Ref("vectors", "host/pxar-payload/2024-05-07T14:25:51Z",
                                   "backup-client-pxar-data.ppxar.didx");
  absl::StatusOr<v1::ReadRangeResponse> last = client->ReadRange(pxar, 104859231, 10);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->data(), std::string(1, '\0'));
  EXPECT_TRUE(last->eof());
  absl::StatusOr<v1::ReadRangeResponse> across = client->ReadRange(pxar, 1048608 - 16, 32);
  ASSERT_TRUE(across.ok()) << across.status();
  // The 16-byte header that opens every middle chunk: type 0x28147a1b0b7c1a25, size 16 + 1 MiB.
  EXPECT_EQ(across->data().substr(16, 8), std::string("\x25\x1a\x7c\x0b\x1b\x7a\x14\x28", 8));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

// With policy `index`, every StreamRange call is a policy stream from its first message until
// it ends: six calls on one archive (more than the readahead detector's four streams per
// archive), each holding after its first message, are six streams; cancelled, none is left.
TEST(ServiceIndexPolicyTest, EachStreamRangeIsAPolicyStreamUntilItEnds) {
  ScratchDir dir;
  WriteFileBytes(dir.path() / "disk.img", PseudoRandomBytes(12 * kChunk, 3));
  CreateArchive(dir.path() / "ds", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
                dir.path() / "disk.img");
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--datastore", "store=" + (dir.path() / "ds").string(), "--policy", "index"});
  ASSERT_NE(server, nullptr);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  auto channel =
      grpc::CreateCustomChannel(server->address(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::ChunkCache::NewStub(channel);
  constexpr int kCalls = 6;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ReadRangeResponse>>> readers;
  for (int i = 0; i < kCalls; ++i) {
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() =
        Ref("store", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx");
    request.set_offset(0);
    request.set_length(0);  // the whole archive: twelve messages, more than gRPC buffers
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub->StreamRange(contexts.back().get(), request));
    v1::ReadRangeResponse first;
    ASSERT_TRUE(readers.back()->Read(&first));
    EXPECT_EQ(first.offset(), 0u);
  }
  EXPECT_EQ(server->Metric("chunkcache_policy_streams"), kCalls);
  for (int i = 0; i < kCalls; ++i) {
    contexts[i]->TryCancel();
    readers[i]->Finish();
  }
  std::optional<double> left;
  for (int attempt = 0; attempt < 100; ++attempt) {
    left = server->Metric("chunkcache_policy_streams");
    if (left == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
