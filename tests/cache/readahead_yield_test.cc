// Readahead yields the upstream to random readers: a guest's demand fetch queued behind
// readahead runs first; while it waits or runs, no more than max_readahead_fetches_under_demand
// prefetches run on its upstream; sequential reads (a restore catching up with its readahead)
// never hold readahead back, a random read of the same client does; once no random reader
// waits, readahead grows back to every fetch worker. With the live-restore setting (no prefetch
// while a guest waits, and a window of one fetch time after its fetch) a guest's next miss finds
// no readahead ahead of it. Counted with held upstream calls and a manual clock, never timed.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/chunk_cache.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/manual_clock.h"
#include "tests/testing/test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddChunk;
using ::chunkcache::testing::MakeSource;
using ::chunkcache::testing::ManualClock;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::WaitFor;

constexpr uint64_t kChunkSize = 4096;
constexpr int kWorkers = 4;
constexpr size_t kReadahead = 16;  // prefetches the sequential reader queues
constexpr uint64_t kRestore = 1;   // the sequential reader (a restore copying the disk)
constexpr uint64_t kGuest = 2;     // a random reader of the same archive

// The bound on its own: one prefetch may run while a guest waits, no window after it.
class ReadaheadYieldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    archive_ = MakeSource(faulty_, "store");
    ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 16 << 20);
    options.max_concurrent_fetches = kWorkers;
    options.max_readahead_fetches_under_demand = bound_;
    options.readahead_yield_window_fetch_times = window_;
    options.clock = clock_.AsFunction();
    cache_ = OpenCache(options);
    faulty_->HoldCalls();
  }
  // Every queued fetch runs to its end before the cache goes (which would fail the rest).
  void TearDown() override {
    faulty_->ReleaseCalls();
    EXPECT_TRUE(WaitFor([&] {
      const CacheStats stats = cache_->Stats();
      return stats.fetches_running == 0 && stats.fetches_queued_demand == 0 &&
             stats.fetches_queued_prefetch == 0;
    }));
  }

  ChunkRequest Chunk(uint64_t requester) {
    const std::string data = PseudoRandomBytes(kChunkSize, ++seed_);
    ChunkRequest request = MakeChunkRequest(archive_, AddChunk(*memory_, data), kChunkSize);
    request.requester = requester;
    return request;
  }
  // Queues `request` (fails the test if it was cached or refused).
  void Look(const ChunkRequest& request, FetchPriority priority) {
    ChunkLookup lookup = cache_->Lookup(
        request,
        [](absl::StatusOr<ChunkHandle> chunk) { EXPECT_TRUE(chunk.ok()) << chunk.status(); },
        priority);
    ASSERT_FALSE(lookup.ready());
    lookups_.push_back(std::move(lookup));
  }
  // The restore's readahead: kReadahead prefetches, of which the first kWorkers run (held).
  void QueueReadahead() {
    for (size_t i = 0; i < kReadahead; ++i) {
      readahead_.push_back(Chunk(kRestore));
      Look(readahead_.back(), FetchPriority::kPrefetch);
    }
    ASSERT_TRUE(faulty_->WaitForHeldCalls(kWorkers, absl::Seconds(10)));
  }
  bool Held(const ChunkRequest& request) const {
    const std::vector<ChunkDigest> held = faulty_->held_chunks();
    return std::find(held.begin(), held.end(), request.digest) != held.end();
  }
  // Lets `request`'s upstream call finish and waits until the worker that ran it has taken its
  // next job (or none): `running` fetches are then running.
  void Finish(const ChunkRequest& request, uint64_t running) {
    faulty_->ReleaseChunk(request.digest);
    ASSERT_TRUE(WaitFor([&] { return cache_->Contains(request.cache_key); }));
    ASSERT_TRUE(WaitFor([&] {
      return cache_->Stats().fetches_running == running && faulty_->held_chunks().size() == running;
    })) << "running "
        << cache_->Stats().fetches_running << ", held " << faulty_->held_chunks().size()
        << ", want " << running;
  }
  // The held prefetches of the restore, oldest first.
  std::vector<ChunkRequest> HeldReadahead() const {
    std::vector<ChunkRequest> held;
    for (const ChunkRequest& request : readahead_) {
      if (Held(request)) held.push_back(request);
    }
    return held;
  }

  size_t bound_ = 1;
  double window_ = 0;
  ManualClock clock_;
  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::shared_ptr<const ChunkSource> archive_;
  std::unique_ptr<ChunkCache> cache_;
  std::vector<ChunkLookup> lookups_;
  std::vector<ChunkRequest> readahead_;
  uint64_t seed_ = 0;
};

TEST_F(ReadaheadYieldTest, AGuestsMissQueuedBehindReadaheadRunsBeforeAnyOfIt) {
  QueueReadahead();
  const ChunkRequest guest = Chunk(kGuest);
  Look(guest, FetchPriority::kDemand);
  EXPECT_EQ(cache_->Stats().fetches_queued_demand, 1u);
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, kReadahead - kWorkers);

  // The first worker to finish takes the guest's fetch, not one of the 12 queued prefetches.
  Finish(HeldReadahead().front(), kWorkers);
  EXPECT_TRUE(Held(guest));
  const CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_queued_demand, 0u);
  EXPECT_EQ(stats.fetches_queued_prefetch, kReadahead - kWorkers);
  EXPECT_EQ(stats.fetches_running_prefetch, static_cast<uint64_t>(kWorkers - 1));
}

TEST_F(ReadaheadYieldTest, WhileAGuestWaitsAtMostTheBoundOfReadaheadRuns) {
  QueueReadahead();
  const ChunkRequest guest = Chunk(kGuest);
  Look(guest, FetchPriority::kDemand);
  Finish(HeldReadahead().front(), kWorkers);  // the guest's fetch starts: 3 prefetches run
  ASSERT_TRUE(Held(guest));

  // The prefetches already running finish; none starts in their place until fewer than the
  // bound (1) run, then exactly one.
  std::vector<ChunkRequest> running = HeldReadahead();
  ASSERT_EQ(running.size(), static_cast<size_t>(kWorkers - 1));
  Finish(running[0], 3);
  Finish(running[1], 2);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 1u);
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, kReadahead - kWorkers);
  EXPECT_GE(cache_->Stats().prefetches_held_back, 1u);
  Finish(running[2], 2);  // one prefetch replaces it: the bound
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_running_prefetch, 1u);
  EXPECT_EQ(stats.fetches_queued_prefetch, kReadahead - kWorkers - 1);
  EXPECT_TRUE(Held(guest));
  EXPECT_EQ(faulty_->total_calls(), static_cast<uint64_t>(kWorkers + 2));

  // The next prefetch to finish is again replaced by one at most.
  Finish(HeldReadahead().front(), 2);
  stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_running_prefetch, 1u);
  EXPECT_EQ(stats.fetches_queued_prefetch, kReadahead - kWorkers - 2);
}

TEST_F(ReadaheadYieldTest, ReadaheadGrowsBackToEveryWorkerOnceTheGuestIsServed) {
  QueueReadahead();
  const ChunkRequest guest = Chunk(kGuest);
  Look(guest, FetchPriority::kDemand);
  Finish(HeldReadahead().front(), kWorkers);
  for (int i = 0; i < 2; ++i) Finish(HeldReadahead().front(), kWorkers - 1 - i);
  Finish(HeldReadahead().front(), 2);  // the guest and the one prefetch the bound allows
  ASSERT_EQ(cache_->Stats().fetches_running_prefetch, 1u);

  // Nobody waits: each fetch done doubles the prefetches that may run, up to every worker.
  Finish(guest, 2);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 2u);
  Finish(HeldReadahead().front(), kWorkers);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, static_cast<uint64_t>(kWorkers));
  Finish(HeldReadahead().front(), kWorkers);  // and stays there
  const CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_running_prefetch, static_cast<uint64_t>(kWorkers));
  EXPECT_EQ(stats.fetches_queued_prefetch, 6u);  // 16 - 4 at first - 1 - 1 - 3 - 1
}

TEST_F(ReadaheadYieldTest, SequentialReadsNeverHoldReadaheadBack) {
  QueueReadahead();
  // The restore reads past its readahead (a read continuing its stream), and joins a chunk its
  // readahead queued (a stream read), both as demand.
  ChunkRequest sequential = Chunk(kRestore);
  sequential.sequential_read = true;
  Look(sequential, FetchPriority::kDemand);
  ChunkRequest stream_read = readahead_.back();
  stream_read.sequential_read = true;
  stream_read.stream_read = true;
  Look(stream_read, FetchPriority::kDemand);
  EXPECT_EQ(cache_->Stats().fetches_queued_demand, 2u);

  // Both run as soon as workers free up, and readahead keeps every other worker.
  Finish(HeldReadahead().front(), kWorkers);
  Finish(HeldReadahead().front(), kWorkers);
  EXPECT_TRUE(Held(sequential));
  EXPECT_TRUE(Held(stream_read));
  Finish(sequential, kWorkers);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, static_cast<uint64_t>(kWorkers - 1));
  EXPECT_EQ(cache_->Stats().prefetches_held_back, 0u);
}

TEST_F(ReadaheadYieldTest, ARandomReadOfTheRestoringClientHoldsReadaheadBackToo) {
  // qemu's guest and its block-stream job read through one NBD connection: one client, told
  // apart only by the shape of their reads.
  QueueReadahead();
  const ChunkRequest random = Chunk(kRestore);
  Look(random, FetchPriority::kDemand);
  Finish(HeldReadahead().front(), kWorkers);
  ASSERT_TRUE(Held(random));
  const std::vector<ChunkRequest> running = HeldReadahead();
  ASSERT_EQ(running.size(), static_cast<size_t>(kWorkers - 1));
  Finish(running[0], 3);
  Finish(running[1], 2);
  Finish(running[2], 2);
  // Three prefetches finished and only the bound's one replaced them.
  const CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_running_prefetch, 1u);
  EXPECT_EQ(stats.fetches_queued_prefetch, kReadahead - kWorkers - 1);
  EXPECT_GE(stats.prefetches_held_back, 1u);
}

TEST_F(ReadaheadYieldTest, AGuestJoiningARunningPrefetchHoldsFurtherReadaheadBack) {
  QueueReadahead();
  // The guest wants a chunk readahead is fetching already: it waits for that fetch, and no
  // prefetch starts beyond the bound until it is done.
  std::vector<ChunkRequest> running = HeldReadahead();
  ChunkRequest joined = running.back();
  joined.requester = kGuest;
  Look(joined, FetchPriority::kDemand);
  Finish(running[0], 3);
  Finish(running[1], 2);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 2u);  // the joined one is among them
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, kReadahead - kWorkers);
  Finish(joined, 2);  // the guest is served: a fetch done lets a second prefetch run
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 2u);
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, kReadahead - kWorkers - 1);
}

// The live-restore setting: no prefetch while a guest waits, and the yield held for one fetch
// time after.
class ReadaheadYieldWindowTest : public ReadaheadYieldTest {
 protected:
  void SetUp() override {
    bound_ = 0;
    window_ = 1;
    ReadaheadYieldTest::SetUp();
  }
  // Runs `event` (a fetch finishing, the clock moving) and waits until a worker has looked at
  // the queued prefetches since and left every one queued.
  void ExpectReadaheadHeldBackAfter(const std::function<void()>& event) {
    const uint64_t before = cache_->Stats().prefetches_held_back;
    event();
    EXPECT_TRUE(WaitFor([&] { return cache_->Stats().prefetches_held_back > before; }));
  }
  // Readahead queued on every worker, then the guest misses: its fetch takes the first worker
  // freed, and the other prefetches running finish without any taking their place. Returns
  // the guest's fetch, held, the only fetch running.
  ChunkRequest GuestFetchRunsAlone() {
    QueueReadahead();
    const ChunkRequest guest = Chunk(kGuest);
    Look(guest, FetchPriority::kDemand);
    Finish(HeldReadahead().front(), kWorkers);
    for (size_t running = kWorkers - 1; running >= 1; --running) {
      Finish(HeldReadahead().front(), running);
    }
    return guest;
  }
  // The guest misses; its fetch starts at once (a worker is free): returns it, held.
  ChunkRequest GuestMisses(size_t running) {
    const ChunkRequest guest = Chunk(kGuest);
    Look(guest, FetchPriority::kDemand);
    EXPECT_TRUE(WaitFor([&] { return Held(guest); }));
    EXPECT_EQ(cache_->Stats().fetches_running, running);
    return guest;
  }
};

TEST(ReadaheadYieldDefaultsTest, DefaultsAreOnePrefetchUnderDemandAndNoWindow) {
  const ChunkCacheOptions defaults;
  EXPECT_EQ(defaults.max_readahead_fetches_under_demand, 1u);
  EXPECT_EQ(defaults.readahead_yield_window_fetch_times, 0.0);
}

TEST_F(ReadaheadYieldWindowTest, TheYieldHoldsForTheWindowAfterAGuestsMissAndEndsAfterIt) {
  QueueReadahead();
  const ChunkRequest first = Chunk(kGuest);
  Look(first, FetchPriority::kDemand);
  Finish(HeldReadahead().front(), kWorkers);  // the guest's fetch starts
  ASSERT_TRUE(Held(first));
  // The prefetches already running finish; none replaces them while the guest waits.
  for (size_t running = kWorkers - 1; running >= 2; --running) {
    Finish(HeldReadahead().front(), running);
  }
  ExpectReadaheadHeldBackAfter([&] { Finish(HeldReadahead().front(), 1); });
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 0u);
  const uint64_t queued = cache_->Stats().fetches_queued_prefetch;
  ASSERT_EQ(queued, kReadahead - kWorkers);

  // The guest's fetch takes 100 ms: the window is 100 ms from its end.
  clock_.Advance(absl::Milliseconds(100));
  ExpectReadaheadHeldBackAfter([&] { Finish(first, 0); });
  ExpectReadaheadHeldBackAfter([&] { clock_.Advance(absl::Milliseconds(90)); });
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 0u);
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, queued);

  // The guest misses again within the window: its fetch is alone on the upstream, no
  // readahead ahead of it.
  const ChunkRequest second = GuestMisses(1);
  EXPECT_EQ(faulty_->held_chunks(), std::vector<ChunkDigest>{second.digest});
  clock_.Advance(absl::Milliseconds(100));  // this fetch takes 100 ms too
  ExpectReadaheadHeldBackAfter([&] { Finish(second, 0); });
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, queued);
  EXPECT_EQ(faulty_->total_calls(), static_cast<uint64_t>(kWorkers + 2));

  // Past the window, readahead starts again, from one prefetch.
  clock_.Advance(absl::Milliseconds(101));
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running_prefetch == 1; }));
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  EXPECT_EQ(cache_->Stats().fetches_queued_prefetch, queued - 1);
}

TEST_F(ReadaheadYieldWindowTest, TheRestoreRegainsFullDepthAfterTheWindow) {
  const ChunkRequest guest = GuestFetchRunsAlone();
  clock_.Advance(absl::Milliseconds(50));
  Finish(guest, 0);
  clock_.Advance(absl::Milliseconds(51));  // the window (50 ms) is over

  // One prefetch, then each one done doubles the depth: 2, 4 = every worker, and it stays.
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running_prefetch == 1; }));
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  Finish(HeldReadahead().front(), 2);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 2u);
  Finish(HeldReadahead().front(), kWorkers);
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, static_cast<uint64_t>(kWorkers));
  Finish(HeldReadahead().front(), kWorkers);
  const CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches_running_prefetch, static_cast<uint64_t>(kWorkers));
  EXPECT_EQ(stats.fetches_queued_prefetch, 5u);  // 16 - 4 at first - 1 - 2 - 3 - 1
}

TEST_F(ReadaheadYieldWindowTest, TheWindowFollowsTheFetchTimeTheGuestSees) {
  const ChunkRequest first = GuestFetchRunsAlone();
  clock_.Advance(absl::Milliseconds(400));
  Finish(first, 0);
  // A slow link (400 ms per fetch): 300 ms later the window still holds.
  ExpectReadaheadHeldBackAfter([&] { clock_.Advance(absl::Milliseconds(300)); });
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 0u);
  // A fast fetch next (0 ms): the average (1/4 of the way) is 300 ms, so its window ends
  // sooner than 400 ms after it.
  const ChunkRequest second = GuestMisses(1);
  Finish(second, 0);
  ExpectReadaheadHeldBackAfter([&] { clock_.Advance(absl::Milliseconds(299)); });
  EXPECT_EQ(cache_->Stats().fetches_running_prefetch, 0u);
  clock_.Advance(absl::Milliseconds(2));
  EXPECT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running_prefetch == 1; }));
}

}  // namespace
}  // namespace chunkcache
