// Clients that stop reading their streams cannot take the cache from the others: zero-copy
// replies pin their chunks until gRPC has sent them, so the server caps what replies pin per
// connection and in total, copies beyond that, and a stream over its connection's share waits
// for its earlier replies to go before it reads on.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;  // what `chunkcache datastore create` cuts
constexpr uint64_t kChunks = 24;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kDisk[] = "drive-scsi0.img.fidx";

std::string MakeImage() { return RepeatedPatternImage(kChunks, kChunk, 100); }

// A client of its own connection (gRPC would otherwise share one between channels of the same
// target) with a small HTTP/2 window that never grows: when it stops reading, the server's
// reply stays unsent.
std::unique_ptr<v1::ChunkCache::Stub> StubWithSmallWindow(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::ChunkCache::NewStub(OwnConnection(address, args));
}

v1::ReadRangeRequest Request(uint64_t offset, uint64_t length) {
  v1::ReadRangeRequest request;
  *request.mutable_snapshot() = Ref("store", kSnapshot, kDisk);
  request.set_offset(offset);
  request.set_length(length);
  return request;
}

// A StreamRange whose client reads nothing after the call started.
struct StalledStream {
  std::unique_ptr<v1::ChunkCache::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::ReadRangeResponse>> reader;
};

class ServiceStalledClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new ScratchDir();
    image_ = new std::string(MakeImage());
    WriteFileBytes(scratch_->path() / "disk.img", *image_);
    CreateArchive(scratch_->path() / "ds", kSnapshot, kDisk, scratch_->path() / "disk.img");
  }
  static void TearDownTestSuite() {
    delete image_;
    delete scratch_;
  }

  static ScratchDir* scratch_;
  static std::string* image_;
};

ScratchDir* ServiceStalledClientsTest::scratch_ = nullptr;
std::string* ServiceStalledClientsTest::image_ = nullptr;

// The issue's acceptance: a 64 MiB cache, 16 clients that each start a StreamRange at their own
// offset and stop reading; another client's cold ReadRange must neither fail nor wait more than
// a second. Each stream's first 4 MiB piece spans two chunks (it starts mid-chunk), so unbounded
// reply pins would hold 17 chunks: more than the cache.
TEST_F(ServiceStalledClientsTest, StalledStreamsCannotStarveAnotherClientsColdRead) {
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--datastore", "store=" + (scratch_->path() / "ds").string(), "--cache-bytes", "64MiB"});
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<StalledStream>> stalled;
  for (uint64_t i = 0; i < 16; ++i) {
    auto stream = std::make_unique<StalledStream>();
    stream->stub = StubWithSmallWindow(server->address());
    stream->context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    stream->reader =
        stream->stub->StreamRange(&stream->context, Request(i * kChunk + kChunk / 2, 0));
    // The server sends its headers with the first piece: from here on it holds that piece.
    stream->reader->WaitForInitialMetadata();
    stalled.push_back(std::move(stream));
  }

  std::unique_ptr<v1::ChunkCache::Stub> other = StubWithSmallWindow(server->address());
  constexpr uint64_t kColdChunk = 20;  // no stream came near it
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ReadRangeResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status =
      other->ReadRange(&context, Request(kColdChunk * kChunk + 12345, kChunk), &response);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << "\n"
                           << server->Log();
  EXPECT_TRUE(response.data() == image_->substr(kColdChunk * kChunk + 12345, kChunk));
  EXPECT_LT(took, absl::Seconds(1)) << "the cold read waited for room";

  // The streams are still there, stalled, holding what the reply budget let them pin: a
  // quarter of the cache in total (the default).
  const std::optional<double> reply_pinned = server->Metric("chunkcache_reply_pinned_bytes");
  ASSERT_TRUE(reply_pinned.has_value());
  EXPECT_GT(*reply_pinned, 0);
  EXPECT_LE(*reply_pinned, 16 << 20);
  EXPECT_GT(server->Metric("chunkcache_reply_copied_bytes_total").value_or(0), 0);

  for (auto& stream : stalled) stream->context.TryCancel();
  for (auto& stream : stalled) {
    const grpc::Status ended = stream->reader->Finish();
    EXPECT_EQ(ended.error_code(), grpc::StatusCode::CANCELLED) << ended.error_message();
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

// A stream whose connection's share is smaller than a piece still streams the whole archive:
// it waits for each piece's pinned chunk to be sent before it reads the next (the rest of a
// piece is copied), woken by the release, not by a timer. Then a stream that its client stops
// reading holds the connection's whole share, and another stream on the same connection still
// completes (it holds nothing, so it never waits: its replies are copied).
TEST_F(ServiceStalledClientsTest, StreamOverItsConnectionsShareWaitsForItsRepliesAndCompletes) {
  WriteFileBytes(scratch_->path() / "small-share.json",
                 R"({"maxReplyPinnedBytesPerConnection": "4MiB"})");
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--config", (scratch_->path() / "small-share.json").string(), "--datastore",
       "store=" + (scratch_->path() / "ds").string(), "--cache-bytes", "64MiB"});
  ASSERT_NE(server, nullptr);
  std::unique_ptr<v1::ChunkCache::Stub> stub = StubWithSmallWindow(server->address());
  auto read_all = [&](uint64_t offset) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    auto reader = stub->StreamRange(&context, Request(offset, 0));
    std::string bytes;
    v1::ReadRangeResponse message;
    while (reader->Read(&message)) bytes += message.data();
    const grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server->Log();
    EXPECT_EQ(bytes.size(), image_->size() - offset);
    EXPECT_TRUE(bytes == image_->substr(offset));
  };
  read_all(kChunk / 2 + 777);  // every piece spans two chunks: one is pinned, one copied
  EXPECT_GT(server->Metric("chunkcache_reply_copied_bytes_total").value_or(0), 0);

  grpc::ClientContext stalled_context;
  stalled_context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
  auto stalled = stub->StreamRange(&stalled_context, Request(0, 0));
  stalled->WaitForInitialMetadata();
  read_all(3 * kChunk + 5);

  stalled_context.TryCancel();
  EXPECT_EQ(stalled->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
