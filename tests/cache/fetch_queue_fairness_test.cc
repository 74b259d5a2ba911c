// The demand fetch queue is shared fairly: one client's burst of misses on one archive is
// refused once it holds its share, while the misses of other clients and archives still queue
// and take their turns; promoting a prefetch never pushes the queue over its bound.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddChunk;
using ::chunkcache::testing::MakeSource;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::WaitFor;

constexpr uint64_t kChunkSize = 4096;

class FetchQueueFairnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    archive_a_ = MakeSource(faulty_, "store");
    archive_b_ = MakeSource(faulty_, "store");
  }
  // One fetch worker, held busy by a blocker chunk, so every later fetch stays queued.
  void OpenWithOneBusyWorker(size_t max_queued_fetches) {
    ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 16 << 20);
    options.max_concurrent_fetches = 1;
    options.max_queued_fetches = max_queued_fetches;
    cache_ = OpenCache(options);
    faulty_->HoldCalls();
    lookups_.push_back(cache_->Lookup(Chunk(archive_a_, /*requester=*/99), [](auto) {}));
    ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  }
  ChunkRequest Chunk(const std::shared_ptr<const ChunkSource>& source, uint64_t requester) {
    const std::string data = PseudoRandomBytes(kChunkSize, ++seed_);
    ChunkRequest request = MakeChunkRequest(source, AddChunk(*memory_, data), kChunkSize);
    request.requester = requester;
    return request;
  }
  // Looks `request` up; true if it was queued, false if refused with RESOURCE_EXHAUSTED.
  // Queued lookups record `name` when their chunk arrives.
  bool Queue(const ChunkRequest& request, const std::string& name) {
    ChunkLookup lookup = cache_->Lookup(request, [this, name](absl::StatusOr<ChunkHandle> chunk) {
      EXPECT_TRUE(chunk.ok()) << name << ": " << chunk.status();
      std::lock_guard<std::mutex> lock(mu_);
      arrived_.push_back(name);
    });
    if (lookup.ready()) {
      EXPECT_EQ(lookup.TakeResult().status().code(), absl::StatusCode::kResourceExhausted) << name;
      return false;
    }
    lookups_.push_back(std::move(lookup));
    return true;
  }
  void ReleaseAndWaitFor(size_t arrivals) {
    faulty_->ReleaseCalls();
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return arrived_.size() == arrivals;
    }));
  }
  std::vector<std::string> Arrived() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrived_;
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::shared_ptr<const ChunkSource> archive_a_;
  std::shared_ptr<const ChunkSource> archive_b_;
  std::unique_ptr<ChunkCache> cache_;
  std::vector<ChunkLookup> lookups_;
  uint64_t seed_ = 0;
  std::mutex mu_;
  std::vector<std::string> arrived_;
};

TEST_F(FetchQueueFairnessTest, OneClientsBurstIsRefusedWhileOtherClientsStillQueue) {
  OpenWithOneBusyWorker(/*max_queued_fetches=*/8);
  // Client 1 misses chunk after chunk of archive A until the cache refuses one.
  int queued = 0;
  while (queued < 100 && Queue(Chunk(archive_a_, 1), "burst" + std::to_string(queued))) ++queued;
  EXPECT_GE(queued, 1);
  EXPECT_LT(queued, 8);  // refused before it filled the whole queue
  EXPECT_EQ(cache_->Stats().fetches_rejected, 1u);
  // Its next miss is refused too, but another client's miss of the same archive queues, and
  // so does the same client's miss of another archive.
  EXPECT_FALSE(Queue(Chunk(archive_a_, 1), "refused"));
  EXPECT_TRUE(Queue(Chunk(archive_a_, 2), "client2"));
  EXPECT_TRUE(Queue(Chunk(archive_b_, 1), "archiveB"));
  EXPECT_LE(cache_->Stats().fetches_queued_demand, 8u);

  // Queued keys take turns: the other two run right after the burst's first fetch, not
  // behind the whole burst.
  ReleaseAndWaitFor(static_cast<size_t>(queued) + 2);
  const std::vector<std::string> arrived = Arrived();
  ASSERT_GE(arrived.size(), 3u);
  EXPECT_EQ(arrived[0], "burst0");
  EXPECT_EQ(arrived[1], "client2");
  EXPECT_EQ(arrived[2], "archiveB");
}

TEST_F(FetchQueueFairnessTest, PromotingAPrefetchNeverExceedsTheBound) {
  OpenWithOneBusyWorker(/*max_queued_fetches=*/2);
  const ChunkRequest prefetched = Chunk(archive_a_, 3);
  ASSERT_EQ(cache_->Prefetch(prefetched), PrefetchOutcome::kRequested);
  ASSERT_TRUE(Queue(Chunk(archive_a_, 1), "client1"));
  ASSERT_TRUE(Queue(Chunk(archive_a_, 2), "client2"));
  ASSERT_EQ(cache_->Stats().fetches_queued_demand, 2u);  // the demand queue is full
  // A reader joining the queued prefetch would make it a third demand fetch: refused, and
  // the prefetch stays queued as one.
  EXPECT_FALSE(Queue(prefetched, "promoted"));
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_queued_demand, 2u);
  EXPECT_EQ(stats.fetches_queued_prefetch, 1u);

  ReleaseAndWaitFor(2);
  ASSERT_TRUE(WaitFor([&] { return cache_->Contains(prefetched.cache_key); }));
  stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_queued_demand, 0u);
  EXPECT_EQ(stats.fetches_queued_prefetch, 0u);
}

TEST_F(FetchQueueFairnessTest, AStreamReadJoiningADemandFetchLeavesTheCountsRight) {
  OpenWithOneBusyWorker(/*max_queued_fetches=*/8);
  ChunkRequest wanted = Chunk(archive_a_, 1);
  ASSERT_TRUE(Queue(wanted, "demand"));
  ChunkRequest stream_read = wanted;
  stream_read.stream_read = true;
  ASSERT_TRUE(Queue(stream_read, "stream"));
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_queued_demand, 1u);
  EXPECT_EQ(stats.fetches_queued_prefetch, 0u);
  ReleaseAndWaitFor(2);
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running == 0; }));
  stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_queued_demand, 0u);
  EXPECT_EQ(stats.fetches_queued_prefetch, 0u);
  // The prefetch queue still takes prefetches.
  EXPECT_EQ(cache_->Prefetch(Chunk(archive_a_, 1)), PrefetchOutcome::kRequested);
}

}  // namespace
}  // namespace chunkcache
