// ChunkCache space: pins survive floods, the budget holds, pages are reused, fragmentation.
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
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

constexpr uint64_t kChunk = 64 * 1024;

class ChunkCacheSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_shared<MemoryUpstream>();
    source_ = MakeSource(upstream_);
  }
  ChunkRequest NewChunk(uint64_t seed, uint64_t size = kChunk) {
    std::string data = PseudoRandomBytes(size, seed);
    ChunkDigest digest = AddChunk(*upstream_, data);
    data_[digest] = std::move(data);
    return MakeChunkRequest(source_, digest, size);
  }
  absl::StatusOr<ChunkHandle> Get(const ChunkRequest& r) {
    return cache_->Get(r, absl::Now() + absl::Seconds(30));
  }
  void ExpectWithinBudget() {
    CacheStats stats = cache_->Stats();
    EXPECT_LE(stats.arena.reserved_bytes, stats.arena.capacity_bytes);
    EXPECT_LE(stats.arena.used_bytes, stats.arena.reserved_bytes);
    EXPECT_LE(stats.pinned_bytes + stats.evictable_bytes, stats.capacity_bytes);
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> upstream_;
  std::shared_ptr<const ChunkSource> source_;
  std::map<ChunkDigest, std::string> data_;
  std::unique_ptr<ChunkCache> cache_;
};

TEST_F(ChunkCacheSpaceTest, PinnedEntrySurvivesAFloodAndItsPagesAreReusedAfterRelease) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 8 * kChunk));
  ChunkRequest held_request = NewChunk(1);
  absl::StatusOr<ChunkHandle> held = Get(held_request);
  ASSERT_TRUE(held.ok());
  const char* held_bytes = held->data().data();
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(Get(NewChunk(100 + i)).ok());
    ExpectWithinBudget();
  }
  EXPECT_TRUE(cache_->Contains(held_request.cache_key));
  EXPECT_EQ(held->data(), data_[held_request.digest]);  // bytes untouched under the flood
  EXPECT_GE(cache_->Stats().evictions, 56u);

  held->Release();
  bool reused = false;
  for (int i = 0; i < 16 && !reused; ++i) {
    absl::StatusOr<ChunkHandle> chunk = Get(NewChunk(200 + i));
    ASSERT_TRUE(chunk.ok());
    reused = chunk->data().data() == held_bytes;
  }
  EXPECT_TRUE(reused) << "the released entry's pages were never handed to a new chunk";
  EXPECT_FALSE(cache_->Contains(held_request.cache_key));
}

TEST_F(ChunkCacheSpaceTest, FillFailsClearlyWhenEverythingStaysPinned) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 * kChunk);
  options.max_wait_for_room = absl::Milliseconds(100);
  cache_ = OpenCache(options);
  std::vector<ChunkHandle> pins;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<ChunkHandle> chunk = Get(NewChunk(i));
    ASSERT_TRUE(chunk.ok());
    pins.push_back(*chunk);
  }
  ChunkRequest one_more = NewChunk(10);
  absl::StatusOr<ChunkHandle> refused = Get(one_more);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("pinned"), absl::string_view::npos);
  EXPECT_EQ(cache_->Stats().fills_without_room, 1u);
  EXPECT_FALSE(cache_->Contains(one_more.cache_key));
  ExpectWithinBudget();

  pins.pop_back();
  EXPECT_TRUE(Get(one_more).ok());
}

TEST_F(ChunkCacheSpaceTest, FillWaitsForAPinThatIsReleasedMeanwhile) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 4 * kChunk));  // waits up to 5 s
  std::vector<ChunkHandle> pins;
  for (int i = 0; i < 4; ++i) pins.push_back(*Get(NewChunk(i)));
  std::thread reader_done([&] {
    absl::SleepFor(absl::Milliseconds(200));
    pins.pop_back();  // a read finished sending its reply
  });
  ChunkRequest one_more = NewChunk(10);
  absl::StatusOr<ChunkHandle> fitted = Get(one_more);
  reader_done.join();
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->data(), data_[one_more.digest]);
  EXPECT_EQ(cache_->Stats().fills_without_room, 0u);
  ExpectWithinBudget();
}

// A fill waiting for room is woken by the release of a pin and looks for room again then, not
// on a timer: while the pins stay, it does not scan the arena at all.
TEST_F(ChunkCacheSpaceTest, FillWaitingForRoomLooksAgainOnlyWhenAPinIsReleased) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 * kChunk);
  options.max_wait_for_room = absl::Seconds(60);
  cache_ = OpenCache(options);
  std::vector<ChunkHandle> pins;
  for (int i = 0; i < 4; ++i) pins.push_back(*Get(NewChunk(i)));
  const ChunkRequest one_more = NewChunk(10);
  std::atomic<bool> released{false};
  std::atomic<bool> released_before_fill{false};
  absl::StatusOr<ChunkHandle> fitted;
  std::thread filler([&] {
    fitted = Get(one_more);
    released_before_fill = released.load();
  });
  ASSERT_TRUE(testing::WaitFor([&] { return cache_->Stats().fills_waiting_for_room == 1; }));
  // Long enough for a fill that polls to look many times; this one must not look at all.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(cache_->Stats().fill_room_rechecks, 0u);
  released = true;
  pins.pop_back();  // a read finished sending its reply
  filler.join();
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_TRUE(released_before_fill) << "the fill found room while every chunk was pinned";
  EXPECT_EQ(fitted->data(), data_[one_more.digest]);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fill_room_rechecks, 1u);  // once, for the one release
  EXPECT_EQ(stats.fills_waiting_for_room, 0u);
  EXPECT_EQ(stats.fills_without_room, 0u);
  ExpectWithinBudget();
}

// Twice as many concurrent fills as the cache holds chunks, each read and released at once (as
// a restore's reads are): fills wait for each other's room instead of failing. Half the
// requests carry no length (a chunk asked for by digest alone, as a rack tier's GetChunk
// does): the blob's header gives the room to reserve, not the largest possible chunk.
TEST_F(ChunkCacheSpaceTest, ConcurrentFillsBeyondTheCapacityWaitForRoom) {
  auto slow = std::make_shared<FaultyUpstream>(upstream_);
  slow->SetLatency(absl::Milliseconds(30));
  source_ = MakeSource(slow);
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 * kChunk);
  options.max_concurrent_fetches = 8;
  cache_ = OpenCache(options);
  std::vector<ChunkRequest> requests;
  for (int i = 0; i < 8; ++i) {
    requests.push_back(NewChunk(300 + i));
    if (i % 2 == 1) requests.back().expected_size.reset();
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (const ChunkRequest& request : requests) {
    readers.emplace_back([&, request] {
      absl::StatusOr<ChunkHandle> chunk = Get(request);
      if (!chunk.ok() || chunk->data() != data_.at(request.digest)) {
        ADD_FAILURE() << (chunk.ok() ? "wrong bytes" : chunk.status().ToString());
        failures.fetch_add(1);
      }
    });
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fills_without_room, 0u);
  EXPECT_EQ(stats.arena.used_bytes, 4 * kChunk);
  ExpectWithinBudget();
}

TEST_F(ChunkCacheSpaceTest, ChunkLargerThanTheCacheIsRefusedAtOnce) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 2 * kChunk));  // waits up to 5 s, but not here
  const absl::Time start = absl::Now();
  absl::StatusOr<ChunkHandle> chunk = Get(NewChunk(1, 3 * kChunk));
  EXPECT_EQ(chunk.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(chunk.status().message().find("does not fit"), absl::string_view::npos);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4)) << "waited for room that cannot come";
  // The same without a length: the blob's header tells the size.
  ChunkRequest unsized = NewChunk(2, 3 * kChunk);
  unsized.expected_size.reset();
  absl::StatusOr<ChunkHandle> refused = Get(unsized);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("does not fit"), absl::string_view::npos);
}

TEST_F(ChunkCacheSpaceTest, ArenaOfMoreThanTwoToThe32PagesIsRefused) {
  // Entries number their pages with 32 bits.
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 8 * kChunk);
  options.capacity_bytes = (uint64_t{1} << 32) * 4096 + 4096;
  absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(options);
  EXPECT_EQ(cache.status().code(), absl::StatusCode::kInvalidArgument) << cache.status();
  options.capacity_bytes = 8 * kChunk;
  EXPECT_TRUE(ChunkCache::Open(options).ok());  // the directory lock was given back
}

TEST_F(ChunkCacheSpaceTest, SmallChunksTakePagesNotSlots) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 16 << 20));
  ASSERT_TRUE(Get(NewChunk(1, 5000)).ok());  // a fixed index's short tail chunk
  ASSERT_TRUE(Get(NewChunk(2, 4 << 20)).ok());
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.arena.used_bytes, 5000u + (4 << 20));
  EXPECT_EQ(stats.arena.reserved_bytes, 8192u + (4 << 20));
}

TEST_F(ChunkCacheSpaceTest, VariableSizesKeepFragmentationLow) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 8 << 20));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const uint64_t size = 16 * 1024 + rng() % (256 * 1024);
    ASSERT_TRUE(Get(NewChunk(1000 + i, size)).ok()) << i;
    ExpectWithinBudget();
  }
  CacheStats stats = cache_->Stats();
  EXPECT_LT(stats.arena.reserved_per_used(), 1.05);       // page rounding only
  EXPECT_GT(stats.arena.used_bytes, (8u << 20) * 3 / 4);  // and most of the arena in use
}

TEST_F(ChunkCacheSpaceTest, FragmentedArenaEvictsAWindowOfNeighbours) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 8 * kChunk));
  std::vector<ChunkRequest> requests;
  for (int i = 0; i < 8; ++i) {  // extents in address order: chunk i at [i, i + 1) chunks
    requests.push_back(NewChunk(i));
    ASSERT_TRUE(Get(requests.back()).ok());
  }
  for (int i : {7, 5, 3}) ASSERT_TRUE(Get(requests[i]).ok());  // LRU: 0 2 4 6 7 5 3 (1 too)
  std::vector<ChunkHandle> pins;
  for (int i : {1, 4, 6}) pins.push_back(*Get(requests[i]));

  // Two chunks' worth: the policy evicts 0 and 2, whose holes are walled in by pinned
  // neighbours; the hole of 2 is then widened by evicting its neighbour 3, although LRU would
  // have taken 7 and 5 next (which would not have made a run of two chunks either).
  ChunkRequest big = NewChunk(50, 2 * kChunk);
  absl::StatusOr<ChunkHandle> fitted = Get(big);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->data(), data_[big.digest]);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.arena.fragmentation_evictions, 1u);
  EXPECT_EQ(stats.evictions, 3u);
  for (int gone : {0, 2, 3}) EXPECT_FALSE(cache_->Contains(requests[gone].cache_key)) << gone;
  for (int kept : {1, 4, 5, 6, 7}) EXPECT_TRUE(cache_->Contains(requests[kept].cache_key)) << kept;
  ExpectWithinBudget();
}

TEST_F(ChunkCacheSpaceTest, PinnedNeighboursCanMakeAFillImpossible) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 8 * kChunk);
  options.max_wait_for_room = absl::Milliseconds(100);
  cache_ = OpenCache(options);
  std::vector<ChunkRequest> requests;
  std::vector<ChunkHandle> odd_pins;
  for (int i = 0; i < 8; ++i) {
    requests.push_back(NewChunk(i));
    absl::StatusOr<ChunkHandle> chunk = Get(requests.back());
    ASSERT_TRUE(chunk.ok());
    if (i % 2 == 1) odd_pins.push_back(*chunk);
  }
  // Every other extent is pinned: four free chunks' worth, never two in a row.
  ChunkRequest big = NewChunk(50, 2 * kChunk);
  EXPECT_EQ(Get(big).status().code(), absl::StatusCode::kResourceExhausted);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.arena.free_bytes, 4 * kChunk);
  EXPECT_EQ(stats.arena.largest_free_bytes, kChunk);

  odd_pins[1].Release();  // chunk 3: evicting it joins the holes around it
  absl::StatusOr<ChunkHandle> fitted = Get(big);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_FALSE(cache_->Contains(requests[3].cache_key));
  ExpectWithinBudget();
}

// Several threads fill, hit, pin and release at random; the budget must hold throughout and
// every byte read must be the chunk's own. Run under TSan in CI.
TEST_F(ChunkCacheSpaceTest, RandomizedConcurrentStressKeepsTheBudget) {
  constexpr uint64_t kCapacity = 2 << 20;
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), kCapacity);
  cache_ = OpenCache(options);
  std::vector<ChunkRequest> pool;
  std::mt19937_64 sizes(11);
  for (int i = 0; i < 48; ++i) pool.push_back(NewChunk(5000 + i, 4096 + sizes() % (160 * 1024)));

  std::atomic<bool> stop{false};
  std::atomic<int> over_budget{0};
  std::thread monitor([&] {
    while (!stop.load()) {
      CacheStats stats = cache_->Stats();
      if (stats.arena.reserved_bytes > stats.arena.capacity_bytes ||
          stats.arena.used_bytes > stats.arena.reserved_bytes) {
        over_budget.fetch_add(1);
      }
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  std::atomic<int> wrong_bytes{0};
  std::atomic<int> unexpected_errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      std::vector<ChunkHandle> held;
      for (int i = 0; i < 250; ++i) {
        const ChunkRequest& request = pool[rng() % pool.size()];
        if (rng() % 8 == 0) {
          cache_->Prefetch(request);
          continue;
        }
        absl::StatusOr<ChunkHandle> chunk = cache_->Get(request, absl::Now() + absl::Seconds(30));
        if (!chunk.ok()) {
          // Possible only when pins fill the cache.
          if (chunk.status().code() != absl::StatusCode::kResourceExhausted) {
            unexpected_errors.fetch_add(1);
          }
          continue;
        }
        if (chunk->data() != data_.at(request.digest)) wrong_bytes.fetch_add(1);
        held.push_back(*std::move(chunk));
        if (held.size() > 2) held.erase(held.begin() + static_cast<long>(rng() % held.size()));
      }
    });
  }
  for (std::thread& w : workers) w.join();
  stop.store(true);
  monitor.join();
  EXPECT_EQ(over_budget.load(), 0);
  EXPECT_EQ(wrong_bytes.load(), 0);
  EXPECT_EQ(unexpected_errors.load(), 0);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.pinned_bytes, 0u);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_GT(stats.lookups.hit + stats.lookups.hinted_hit, 0u);
  ExpectWithinBudget();
}

}  // namespace
}  // namespace chunkcache
