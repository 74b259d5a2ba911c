// ChunkCache: hits, miss coalescing, cancellation, errors, corrupt chunks, the fetch queue.
#include "cache/chunk_cache.h"

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "format/blob.h"
#include "format/decode_error.h"
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

constexpr uint64_t kChunkSize = 64 * 1024;

class ChunkCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    source_ = MakeSource(faulty_, "store1");
  }
  void Open(ChunkCacheOptions options) { cache_ = OpenCache(options); }
  void Open() { Open(SmallCacheOptions(dir_.path(), 4 << 20)); }

  // Adds a chunk of pseudo-random bytes and returns its request.
  ChunkRequest NewChunk(uint64_t seed, uint64_t size = kChunkSize) {
    std::string data = PseudoRandomBytes(size, seed);
    ChunkDigest digest = AddChunk(*memory_, data);
    data_[digest] = data;
    return MakeChunkRequest(source_, digest, size);
  }
  std::string Expected(const ChunkRequest& r) { return data_[r.digest]; }

  absl::Time Soon() { return absl::Now() + absl::Seconds(20); }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::shared_ptr<const ChunkSource> source_;
  std::map<ChunkDigest, std::string> data_;
  std::unique_ptr<ChunkCache> cache_;
};

TEST_F(ChunkCacheTest, MissFetchesOnceThenHits) {
  Open();
  ChunkRequest request = NewChunk(1);
  absl::StatusOr<ChunkHandle> first = cache_->Get(request, Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->data(), Expected(request));
  absl::StatusOr<ChunkHandle> second = cache_->Get(request, Soon());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->data().data(), first->data().data());  // the same arena bytes
  EXPECT_EQ(memory_->ChunkReadCount(request.digest), 1u);

  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.lookups.miss, 1u);
  EXPECT_EQ(stats.lookups.hit, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.pinned_bytes, kChunkSize);
  ASSERT_EQ(stats.fetches.size(), 1u);
  EXPECT_EQ(stats.fetches[0].datastore, "store1");
  EXPECT_EQ(stats.fetches[0].ok, 1u);
  EXPECT_GT(stats.fetches[0].raw_bytes, 0u);
  first->Release();
  second->Release();
  EXPECT_EQ(cache_->Stats().evictable_bytes, kChunkSize);
  EXPECT_EQ(cache_->Stats().pinned_bytes, 0u);
}

TEST_F(ChunkCacheTest, SixtyFourReadersOfOneColdChunkShareOneFetch) {
  Open();
  ChunkRequest request = NewChunk(2);
  faulty_->HoldCalls();
  constexpr int kReaders = 64;
  std::vector<std::thread> readers;
  std::vector<absl::StatusOr<ChunkHandle>> results(kReaders, absl::UnknownError("unset"));
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] { results[i] = cache_->Get(request, Soon()); });
  }
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().lookups.total() == kReaders; }));
  faulty_->ReleaseCalls();
  for (std::thread& t : readers) t.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->data(), Expected(request));
  }
  EXPECT_EQ(memory_->ChunkReadCount(request.digest), 1u);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.lookups.miss, 1u);
  EXPECT_EQ(stats.lookups.coalesced, kReaders - 1u);
}

TEST_F(ChunkCacheTest, CancelledFirstReaderDoesNotCancelTheFetch) {
  Open();
  ChunkRequest request = NewChunk(3);
  faulty_->HoldCalls();
  std::atomic<int> first_callbacks{0};
  ChunkLookup first =
      cache_->Lookup(request, [&](absl::StatusOr<ChunkHandle>) { first_callbacks.fetch_add(1); });
  ASSERT_FALSE(first.ready());
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));

  std::promise<absl::StatusOr<ChunkHandle>> second_promise;
  std::future<absl::StatusOr<ChunkHandle>> second_done = second_promise.get_future();
  ChunkLookup second = cache_->Lookup(request, [&](absl::StatusOr<ChunkHandle> chunk) {
    second_promise.set_value(std::move(chunk));
  });
  EXPECT_TRUE(first.Cancel());   // the caller who started the fetch gives up
  EXPECT_FALSE(first.Cancel());  // once only

  faulty_->ReleaseCalls();
  absl::StatusOr<ChunkHandle> second_result = second_done.get();
  ASSERT_TRUE(second_result.ok()) << second_result.status();
  EXPECT_EQ(second_result->data(), Expected(request));
  EXPECT_EQ(first_callbacks.load(), 0);
  EXPECT_TRUE(cache_->Contains(request.cache_key));
  EXPECT_FALSE(second.Cancel());  // already delivered
}

TEST_F(ChunkCacheTest, AbandonedFetchIsStillCached) {
  Open();
  ChunkRequest request = NewChunk(4);
  faulty_->HoldCalls();
  absl::StatusOr<ChunkHandle> timed_out =
      cache_->Get(request, absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded);
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return cache_->Contains(request.cache_key); }));
  absl::StatusOr<ChunkHandle> later = cache_->Get(request, Soon());
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->data(), Expected(request));
  EXPECT_EQ(memory_->ChunkReadCount(request.digest), 1u);
}

TEST_F(ChunkCacheTest, UpstreamErrorReachesEveryWaiterAndIsNotCached) {
  Open();
  ChunkRequest request = NewChunk(5);
  faulty_->HoldCalls();
  faulty_->FailNextCalls(1, absl::UnavailableError("upstream down"));
  constexpr int kReaders = 8;
  std::vector<std::thread> readers;
  std::vector<absl::StatusOr<ChunkHandle>> results(kReaders, absl::UnknownError("unset"));
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] { results[i] = cache_->Get(request, Soon()); });
  }
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().lookups.total() == kReaders; }));
  faulty_->ReleaseCalls();
  for (std::thread& t : readers) t.join();
  for (const auto& result : results) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  }
  EXPECT_FALSE(cache_->Contains(request.cache_key));
  EXPECT_EQ(cache_->Stats().fetches[0].error, 1u);

  // The next lookup retries.
  absl::StatusOr<ChunkHandle> retry = cache_->Get(request, Soon());
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->data(), Expected(request));
  EXPECT_EQ(faulty_->total_calls(), 2u);  // one failed fetch, one retry
}

TEST_F(ChunkCacheTest, MissingChunkIsNotFound) {
  Open();
  ChunkRequest request = MakeChunkRequest(source_, Sha256("never stored"), 100);
  absl::StatusOr<ChunkHandle> chunk = cache_->Get(request, Soon());
  EXPECT_EQ(chunk.status().code(), absl::StatusCode::kNotFound) << chunk.status();
}

TEST_F(ChunkCacheTest, CorruptBlobIsDataLossForEveryWaiterAndNeverCached) {
  Open();
  ChunkRequest bad = NewChunk(6);
  ChunkRequest good = NewChunk(7);
  faulty_->CorruptChunk(bad.digest);
  faulty_->HoldCalls();
  std::vector<std::thread> readers;
  std::vector<absl::StatusOr<ChunkHandle>> results(4, absl::UnknownError("unset"));
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, i] { results[i] = cache_->Get(bad, Soon()); });
  }
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().lookups.total() == 4; }));
  faulty_->ReleaseCalls();
  for (std::thread& t : readers) t.join();
  for (const auto& result : results) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
  }
  EXPECT_FALSE(cache_->Contains(bad.cache_key));
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.fetches[0].corrupt, 1u);
  uint64_t decode_errors = 0;
  for (uint64_t n : stats.decode_errors) decode_errors += n;
  EXPECT_EQ(decode_errors, 1u);
  EXPECT_EQ(stats.arena.reserved_bytes, 0u);  // the failed fill gave its extent back

  absl::StatusOr<ChunkHandle> fine = cache_->Get(good, Soon());
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->data(), Expected(good));
  // Still corrupt upstream: fetched again, never served.
  EXPECT_EQ(cache_->Get(bad, Soon()).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(memory_->ChunkReadCount(bad.digest), 2u);
}

TEST_F(ChunkCacheTest, BlobOfAnotherChunkFailsTheDigestCheck) {
  Open();
  const std::string data = PseudoRandomBytes(kChunkSize, 8);
  const ChunkDigest claimed = Sha256("some other content");
  absl::StatusOr<std::string> blob = EncodeBlob(data, BlobEncodeOptions{});
  ASSERT_TRUE(blob.ok());
  memory_->AddChunk(claimed, *blob);
  absl::StatusOr<ChunkHandle> chunk =
      cache_->Get(MakeChunkRequest(source_, claimed, kChunkSize), Soon());
  EXPECT_EQ(chunk.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetDecodeErrorReason(chunk.status()), DecodeErrorReason::kDigest);
  EXPECT_EQ(cache_->Stats().decode_errors_for(DecodeErrorReason::kDigest), 1u);
  EXPECT_FALSE(cache_->Contains(claimed));
}

TEST_F(ChunkCacheTest, WrongLengthFromTheIndexIsDataLoss) {
  Open();
  ChunkRequest request = NewChunk(9);
  request.expected_size = kChunkSize - 1;
  EXPECT_EQ(cache_->Get(request, Soon()).status().code(), absl::StatusCode::kDataLoss);
  request.expected_size = uint64_t{1} << 30;  // larger than any chunk: refused before fetching
  EXPECT_EQ(cache_->Get(request, Soon()).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(memory_->ChunkReadCount(request.digest), 1u);
}

// A chunk cached (or being fetched) for one index range is refused to a reader whose index
// gives it another length: DATA_LOSS on a hit and for a waiter joining the fetch, while the
// reader with the right length gets it.
TEST_F(ChunkCacheTest, WrongLengthIsDataLossOnHitsAndForJoiningWaiters) {
  Open();
  ChunkRequest right = NewChunk(13);
  ChunkRequest longer = right;
  longer.expected_size = 4 * kChunkSize;
  ChunkRequest shorter = right;
  shorter.expected_size = kChunkSize / 2;

  faulty_->HoldCalls();
  std::promise<absl::StatusOr<ChunkHandle>> first_result;
  std::promise<absl::StatusOr<ChunkHandle>> joiner_result;
  ChunkLookup first = cache_->Lookup(
      right, [&](absl::StatusOr<ChunkHandle> chunk) { first_result.set_value(std::move(chunk)); });
  ChunkLookup joiner = cache_->Lookup(longer, [&](absl::StatusOr<ChunkHandle> chunk) {
    joiner_result.set_value(std::move(chunk));
  });
  ASSERT_FALSE(first.ready());
  ASSERT_FALSE(joiner.ready());
  faulty_->ReleaseCalls();
  absl::StatusOr<ChunkHandle> got = first_result.get_future().get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data(), Expected(right));
  EXPECT_EQ(joiner_result.get_future().get().status().code(), absl::StatusCode::kDataLoss);
  got = absl::UnknownError("released");

  for (const ChunkRequest& wrong : {longer, shorter}) {
    absl::StatusOr<ChunkHandle> hit = cache_->Get(wrong, Soon());
    EXPECT_EQ(hit.status().code(), absl::StatusCode::kDataLoss) << hit.status();
  }
  EXPECT_EQ(cache_->Get(right, Soon())->data(), Expected(right));
  EXPECT_EQ(memory_->ChunkReadCount(right.digest), 1u);
  // The fetch worker drops its own reference once every waiter's callback has returned.
  EXPECT_TRUE(WaitFor([&] { return cache_->Stats().pinned_bytes == 0; }));
}

TEST_F(ChunkCacheTest, UnknownSizeIsTrimmedAfterDecoding) {
  Open(SmallCacheOptions(dir_.path(), 32 << 20));  // room for the largest chunk
  ChunkRequest request = NewChunk(10, 5000);
  request.expected_size.reset();
  absl::StatusOr<ChunkHandle> chunk = cache_->Get(request, Soon());
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->data(), Expected(request));
  EXPECT_EQ(cache_->Stats().arena.reserved_bytes, 8192u);
}

TEST_F(ChunkCacheTest, FullQueueRefusesDemandMissesWithResourceExhausted) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
  options.max_concurrent_fetches = 1;
  options.max_queued_fetches = 4;  // one reader of one archive may hold half of them
  Open(options);
  faulty_->HoldCalls();
  std::vector<ChunkLookup> lookups;
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i) {  // one running, two queued
    lookups.push_back(cache_->Lookup(NewChunk(20 + i), [&](auto) { done.fetch_add(1); }));
    if (i == 0) {
      ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
    }
  }
  ChunkLookup refused = cache_->Lookup(NewChunk(30), [](auto) { FAIL(); });
  ASSERT_TRUE(refused.ready());
  EXPECT_EQ(refused.TakeResult().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(cache_->Stats().fetches_rejected, 1u);
  EXPECT_EQ(cache_->Stats().fetches_queued_demand, 2u);
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return done.load() == 3; }));
}

TEST_F(ChunkCacheTest, DemandFetchesRunBeforeQueuedPrefetches) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
  options.max_concurrent_fetches = 1;
  Open(options);
  ChunkRequest blocker = NewChunk(40);
  ChunkRequest prefetch1 = NewChunk(41);
  ChunkRequest prefetch2 = NewChunk(42);
  ChunkRequest promoted = NewChunk(43);
  ChunkRequest demand = NewChunk(44);
  faulty_->HoldCalls();
  ChunkLookup running = cache_->Lookup(blocker, [](auto) {});
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  EXPECT_EQ(cache_->Prefetch(prefetch1), PrefetchOutcome::kRequested);
  EXPECT_EQ(cache_->Prefetch(prefetch2), PrefetchOutcome::kRequested);
  EXPECT_EQ(cache_->Prefetch(promoted), PrefetchOutcome::kRequested);
  EXPECT_EQ(cache_->Prefetch(promoted), PrefetchOutcome::kInFlight);

  std::mutex mu;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](absl::StatusOr<ChunkHandle> chunk) {
      EXPECT_TRUE(chunk.ok());
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
      // When a reader's chunk arrives, no prefetch has been fetched yet.
      EXPECT_FALSE(cache_->Contains(prefetch1.cache_key)) << name;
      EXPECT_FALSE(cache_->Contains(prefetch2.cache_key)) << name;
    };
  };
  ChunkLookup joined = cache_->Lookup(promoted, record("promoted"));  // a reader now waits
  ChunkLookup fresh = cache_->Lookup(demand, record("demand"));
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] {
    return cache_->Contains(prefetch1.cache_key) && cache_->Contains(prefetch2.cache_key);
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(order, (std::vector<std::string>{"promoted", "demand"}));
}

TEST_F(ChunkCacheTest, PrefetchedChunksCountAsUsedOrWasted) {
  Open(SmallCacheOptions(dir_.path(), 4 * kChunkSize));
  ChunkRequest used = NewChunk(50);
  ChunkRequest wasted = NewChunk(51);
  EXPECT_EQ(cache_->Prefetch(used), PrefetchOutcome::kRequested);
  EXPECT_EQ(cache_->Prefetch(wasted), PrefetchOutcome::kRequested);
  ASSERT_TRUE(WaitFor(
      [&] { return cache_->Contains(used.cache_key) && cache_->Contains(wasted.cache_key); }));
  EXPECT_EQ(cache_->Prefetch(used), PrefetchOutcome::kCached);
  ASSERT_TRUE(cache_->Get(used, Soon()).ok());
  EXPECT_EQ(cache_->Stats().prefetch_used, 1u);
  // Push both out with demand fills.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(cache_->Get(NewChunk(60 + i), Soon()).ok());
  CacheStats stats = cache_->Stats();
  EXPECT_FALSE(cache_->Contains(wasted.cache_key));
  EXPECT_EQ(stats.prefetch_wasted, 1u);
  EXPECT_EQ(stats.prefetch_used, 1u);
}

// A stream read of a prefetched chunk (ChunkRequest::stream_read) is a hit and uses the
// prefetch, but leaves the chunk first in line for eviction, however often the stream reads
// it; another reader's read promotes it.
TEST_F(ChunkCacheTest, StreamReadsOfAPrefetchDoNotPromoteIt) {
  for (const bool other_reader : {false, true}) {
    SCOPED_TRACE(other_reader ? "then another reader" : "stream reads only");
    cache_.reset();
    Open(SmallCacheOptions(dir_.path(), 4 * kChunkSize));
    ChunkRequest prefetched = NewChunk(70);
    ASSERT_EQ(cache_->Prefetch(prefetched), PrefetchOutcome::kRequested);
    ASSERT_TRUE(WaitFor([&] { return cache_->Contains(prefetched.cache_key); }));
    std::vector<ChunkRequest> demand;
    for (int i = 0; i < 4; ++i) demand.push_back(NewChunk(71 + i));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(cache_->Get(demand[i], Soon()).ok());
    ChunkRequest stream = prefetched;
    stream.stream_read = true;
    for (int piece = 0; piece < 3; ++piece) {
      absl::StatusOr<ChunkHandle> chunk = cache_->Get(stream, Soon());
      ASSERT_TRUE(chunk.ok()) << chunk.status();
      EXPECT_EQ(chunk->data(), Expected(prefetched));
    }
    if (other_reader) {
      ASSERT_TRUE(cache_->Get(prefetched, Soon()).ok());
    }
    // Two more demand chunks in a cache of four: one victim.
    for (int i = 2; i < 4; ++i) ASSERT_TRUE(cache_->Get(demand[i], Soon()).ok());
    CacheStats stats = cache_->Stats();
    EXPECT_EQ(stats.lookups.hit, other_reader ? 4u : 3u);
    EXPECT_EQ(stats.prefetch_used, 1u);
    EXPECT_EQ(stats.prefetch_wasted, 0u);  // read by its stream: not a wasted prefetch
    EXPECT_EQ(stats.evictions, 1u);
    EXPECT_EQ(cache_->Contains(prefetched.cache_key), other_reader);
    EXPECT_EQ(cache_->Contains(demand[0].cache_key), !other_reader);  // LRU's victim
    for (int i = 1; i < 4; ++i) EXPECT_TRUE(cache_->Contains(demand[i].cache_key)) << i;
  }
}

// A stream read that waits for its prefetch in flight gets it, but the chunk still enters
// the policy as a prefetch (used, first in line); a demand reader joining would make it a
// demand insert.
TEST_F(ChunkCacheTest, StreamReadJoiningItsPrefetchInFlightKeepsItAPrefetch) {
  for (const bool demand_joins : {false, true}) {
    SCOPED_TRACE(demand_joins ? "a demand reader joins too" : "only the stream waits");
    cache_.reset();
    Open(SmallCacheOptions(dir_.path(), 4 * kChunkSize));
    std::vector<ChunkRequest> demand;
    for (int i = 0; i < 4; ++i) demand.push_back(NewChunk(81 + i));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(cache_->Get(demand[i], Soon()).ok());
    ChunkRequest prefetched = NewChunk(80);
    ChunkRequest stream = prefetched;
    stream.stream_read = true;
    faulty_->HoldCalls();
    ASSERT_EQ(cache_->Prefetch(prefetched), PrefetchOutcome::kRequested);
    ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
    std::promise<absl::StatusOr<ChunkHandle>> streamed;
    std::promise<absl::StatusOr<ChunkHandle>> joined;
    ChunkLookup stream_lookup = cache_->Lookup(
        stream, [&](absl::StatusOr<ChunkHandle> chunk) { streamed.set_value(std::move(chunk)); });
    ASSERT_FALSE(stream_lookup.ready());
    ChunkLookup demand_lookup;
    if (demand_joins) {
      demand_lookup = cache_->Lookup(prefetched, [&](absl::StatusOr<ChunkHandle> chunk) {
        joined.set_value(std::move(chunk));
      });
    } else {
      joined.set_value(absl::CancelledError("no demand reader"));
    }
    faulty_->ReleaseCalls();
    {
      absl::StatusOr<ChunkHandle> chunk = streamed.get_future().get();
      ASSERT_TRUE(chunk.ok()) << chunk.status();
      EXPECT_EQ(chunk->data(), Expected(prefetched));
      EXPECT_EQ(joined.get_future().get().ok(), demand_joins);
    }
    EXPECT_EQ(cache_->Stats().lookups.coalesced, demand_joins ? 2u : 1u);
    EXPECT_EQ(cache_->Stats().prefetch_used, 1u);
    // Two more demand chunks in a cache of four: one victim.
    for (int i = 2; i < 4; ++i) ASSERT_TRUE(cache_->Get(demand[i], Soon()).ok());
    CacheStats stats = cache_->Stats();
    EXPECT_EQ(stats.evictions, 1u);
    EXPECT_EQ(stats.prefetch_wasted, 0u);
    EXPECT_EQ(cache_->Contains(prefetched.cache_key), demand_joins);
    EXPECT_EQ(cache_->Contains(demand[0].cache_key), !demand_joins);
  }
}

class CountingObserver : public CacheStatsObserver {
 public:
  void OnLookup(LookupResult) override { lookups.fetch_add(1); }
  void OnUpstreamFetch(std::string_view, FetchResult result, absl::Duration duration,
                       uint64_t) override {
    if (result == FetchResult::kOk && duration > absl::ZeroDuration()) ok_fetches.fetch_add(1);
  }
  std::atomic<int> lookups{0};
  std::atomic<int> ok_fetches{0};
};

TEST_F(ChunkCacheTest, ObserverSeesLookupsAndFetchDurations) {
  CountingObserver observer;
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
  options.observer = &observer;
  Open(options);
  ChunkRequest request = NewChunk(70);
  ASSERT_TRUE(cache_->Get(request, Soon()).ok());
  ASSERT_TRUE(cache_->Get(request, Soon()).ok());
  EXPECT_EQ(observer.lookups.load(), 2);
  EXPECT_EQ(observer.ok_fetches.load(), 1);
}

TEST_F(ChunkCacheTest, SecondCacheOnTheSameDirIsRefused) {
  Open();
  absl::StatusOr<std::unique_ptr<ChunkCache>> second =
      ChunkCache::Open(SmallCacheOptions(dir_.path(), 4 << 20));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
}

TEST_F(ChunkCacheTest, BadOptionsAreRefused) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
  options.policy = "no-such-policy";
  EXPECT_EQ(ChunkCache::Open(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = SmallCacheOptions("", 4 << 20);
  EXPECT_EQ(ChunkCache::Open(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = SmallCacheOptions(dir_.path(), 100);
  EXPECT_EQ(ChunkCache::Open(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chunkcache
