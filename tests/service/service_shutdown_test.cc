// Graceful shutdown: on SIGTERM chunkcached stops accepting calls, lets a StreamRange in
// flight finish within the grace period or cuts it when the period ends, and exits 0.
// The slow client reads with HTTP/2 window growth (BDP probing) off, so the server really
// waits on flow control instead of pushing the archive into the client's buffers.
#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kDisk[] = "drive-scsi0.img.fidx";

std::unique_ptr<v1::ChunkCache::Stub> SlowStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 65536);
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::ChunkCache::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

// A StreamRange of a whole archive on a SlowStub.
struct SlowStream {
  std::unique_ptr<v1::ChunkCache::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::ReadRangeResponse>> reader;
};

class ServiceShutdownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(4 * kChunk, 9);
    WriteFileBytes(dir_ / "disk.img", image_);
    CreateArchive(dir_ / "ds", kSnapshot, kDisk, dir_ / "disk.img");
  }

  std::unique_ptr<ChunkcachedProcess> StartServer(const std::string& grace_seconds) {
    return ChunkcachedProcess::Start(
        {"--datastore", "store=" + (dir_ / "ds").string(), "--shutdown-grace", grace_seconds});
  }

  std::unique_ptr<SlowStream> StartStream(const std::string& address) {
    auto stream = std::make_unique<SlowStream>();
    stream->stub = SlowStub(address);
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() = Ref("store", kSnapshot, kDisk);
    request.set_length(0);  // to the end of the archive
    stream->reader = stream->stub->StreamRange(&stream->context, request);
    return stream;
  }

  ScratchDir dir_;
  std::string image_;
};

TEST_F(ServiceShutdownTest, StreamThatKeepsReadingFinishesWithinTheGracePeriod) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("30");
  ASSERT_NE(server, nullptr);
  std::unique_ptr<SlowStream> stream = StartStream(server->address());
  v1::ReadRangeResponse message;
  ASSERT_TRUE(stream->reader->Read(&message));
  std::string bytes = message.data();

  const auto signalled = std::chrono::steady_clock::now();
  server->SendSignal(SIGTERM);
  // While the stream drains, new calls are refused.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::unique_ptr<ChunkCacheClient> late = ConnectClient(server->address());
  EXPECT_EQ(late->ReadRange(Ref("store", kSnapshot, kDisk), 0, 10).status().code(),
            absl::StatusCode::kUnavailable);

  while (stream->reader->Read(&message)) {
    bytes += message.data();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const grpc::Status status = stream->reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(bytes == image_) << bytes.size() << " of " << image_.size() << " bytes";
  std::optional<int> exit_code = server->WaitForExit(std::chrono::seconds(60));
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_EQ(*exit_code, 0) << server->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(25))
      << "the server should exit once the stream is done, not at the end of the grace period";
  const std::string log = server->Log();
  EXPECT_NE(log.find("event=signal signal=SIGTERM"), std::string::npos) << log;
  EXPECT_NE(log.find("event=shutdown_complete"), std::string::npos) << log;
}

TEST_F(ServiceShutdownTest, StalledStreamIsCutAtTheEndOfTheGracePeriod) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("1.5");
  ASSERT_NE(server, nullptr);
  std::unique_ptr<SlowStream> stream = StartStream(server->address());
  v1::ReadRangeResponse message;
  ASSERT_TRUE(stream->reader->Read(&message));
  uint64_t received = message.data().size();

  // The client stops reading; the server is stuck on flow control for the next message.
  const auto signalled = std::chrono::steady_clock::now();
  server->SendSignal(SIGTERM);
  std::optional<int> exit_code = server->WaitForExit(std::chrono::seconds(60));
  const auto elapsed = std::chrono::steady_clock::now() - signalled;
  ASSERT_TRUE(exit_code.has_value()) << "chunkcached did not exit";
  EXPECT_EQ(*exit_code, 0) << server->Log();
  EXPECT_GE(elapsed, std::chrono::milliseconds(1400)) << "the stream got its grace period";
  EXPECT_LT(elapsed, std::chrono::seconds(20));

  while (stream->reader->Read(&message)) received += message.data().size();
  const grpc::Status status = stream->reader->Finish();
  EXPECT_FALSE(status.ok()) << "the stream was cut, not completed";
  EXPECT_LT(received, image_.size());
}

TEST_F(ServiceShutdownTest, IdleServerExitsPromptlyOnSigint) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("10");
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  ASSERT_TRUE(client->ReadRange(Ref("store", kSnapshot, kDisk), 0, 10).ok());
  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(server->Stop(SIGINT), 0) << server->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(8))
      << "no call in flight: no reason to wait for the grace period";
}

}  // namespace
}  // namespace chunkcache::testing
