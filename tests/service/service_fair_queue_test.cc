// One client's burst of cold reads cannot take the whole upstream fetch queue from another:
// chunkcached charges each queued demand fetch to the connection (or configured client) that
// asked, and a client holding its share is refused with RESOURCE_EXHAUSTED while another
// client's miss still queues and is served. Real processes: a node whose datastore is a rack
// chunkcached (`remote`), the rack stopped with SIGSTOP so that the node's fetches stay queued.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;  // what `chunkcache datastore create` cuts
constexpr uint64_t kChunks = 16;
constexpr uint64_t kBurst = 12;  // the bursting client's reads, one cold chunk each
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kDisk[] = "drive-scsi0.img.fidx";

std::string MakeImage() { return RepeatedPatternImage(kChunks, kChunk, 300); }

struct ReadResult {
  grpc::Status status;
  std::string data;
};

// 4 KiB at the start of `chunk`, with a deadline long enough to outlast the stopped rack.
ReadResult ReadChunkStart(v1::ChunkCache::Stub& stub, uint64_t chunk) {
  v1::ReadRangeRequest request;
  *request.mutable_snapshot() = Ref("store", kSnapshot, kDisk);
  request.set_offset(chunk * kChunk);
  request.set_length(4096);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  v1::ReadRangeResponse response;
  ReadResult result;
  result.status = stub.ReadRange(&context, request, &response);
  result.data = response.data();
  return result;
}

TEST(ServiceFairQueueTest, BurstingClientIsRefusedWhileAnotherClientsMissStillQueues) {
  ScratchDir dir;
  const std::string image = MakeImage();
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kDisk, dir / "disk.img");

  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string()});
  ASSERT_NE(rack, nullptr);
  // One fetch worker and a demand queue of 8: alone, a client may queue half of it (4); with a
  // second client queueing too, each may hold 8 / 3 = 2. Readahead is off so that the only
  // fetches are the reads' own.
  WriteFileBytes(dir / "node.json",
                 absl::StrCat(R"({"datastores": [{"name": "store", "remote": {"target": ")",
                              rack->address(), R"(", "timeoutSeconds": 120}}],)",
                              R"( "cache": {"maxConcurrentFetches": 1, "maxQueuedFetches": 8}})"));
  std::unique_ptr<ChunkcachedProcess> node = ChunkcachedProcess::Start(
      {"--config", (dir / "node.json").string(), "--cache-bytes", "128MiB", "--no-readahead"});
  ASSERT_NE(node, nullptr);

  std::unique_ptr<v1::ChunkCache::Stub> burster =
      v1::ChunkCache::NewStub(OwnConnection(node->address()));
  std::unique_ptr<v1::ChunkCache::Stub> other =
      v1::ChunkCache::NewStub(OwnConnection(node->address()));
  // Open the archive (its index comes from the rack) before the rack stops.
  ReadResult opened = ReadChunkStart(*burster, 0);
  ASSERT_TRUE(opened.status.ok()) << opened.status.error_message() << "\n" << node->Log();

  rack->SendSignal(SIGSTOP);
  std::mutex mu;
  std::vector<ReadResult> burst_results;
  std::atomic<int> burst_refused{0};
  std::vector<std::thread> burst;
  for (uint64_t i = 0; i < kBurst; ++i) {
    burst.emplace_back([&, chunk = 1 + i] {
      ReadResult result = ReadChunkStart(*burster, chunk);
      if (result.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++burst_refused;
      if (result.status.ok()) {
        EXPECT_EQ(result.data, image.substr(chunk * kChunk, 4096)) << "chunk " << chunk;
      }
      std::lock_guard<std::mutex> lock(mu);
      burst_results.push_back(std::move(result));
    });
  }
  // The reads beyond the burster's share are refused at once; the others wait for the rack.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (burst_refused.load() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(burst_refused.load(), 0) << "no read of the burst was refused\n" << node->Log();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the rest of the burst settle
  const int refused_before_other = burst_refused.load();

  // The other client's cold read queues beside the burst and is served once the rack is back.
  ReadResult other_result;
  std::atomic<bool> other_done{false};
  std::thread other_reader([&] {
    other_result = ReadChunkStart(*other, kChunks - 1);
    other_done = true;
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_FALSE(other_done.load()) << "the other client's miss was answered while the rack was "
                                     "stopped: "
                                  << other_result.status.error_code() << " "
                                  << other_result.status.error_message();
  rack->SendSignal(SIGCONT);
  other_reader.join();
  for (std::thread& t : burst) t.join();

  ASSERT_TRUE(other_result.status.ok())
      << other_result.status.error_code() << " " << other_result.status.error_message() << "\n"
      << node->Log();
  EXPECT_EQ(other_result.data, image.substr((kChunks - 1) * kChunk, 4096));
  // The burster was held to its share: some of its reads were refused, the rest were served.
  EXPECT_EQ(burst_refused.load(), refused_before_other);
  EXPECT_GT(burst_refused.load(), 0);
  int served = 0;
  for (const ReadResult& result : burst_results) {
    if (result.status.ok()) {
      ++served;
    } else {
      EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << result.status.error_message();
    }
  }
  EXPECT_GT(served, 0);
  EXPECT_EQ(served + burst_refused.load(), static_cast<int>(kBurst));
  // Each refusal is counted where an operator sees it.
  EXPECT_EQ(node->Metric("chunkcache_fetches_refused_total", {{"kind", "demand"}}),
            burst_refused.load());
  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
}

}  // namespace
}  // namespace chunkcache::testing
