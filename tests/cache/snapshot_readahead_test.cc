// Readahead: sequential readers get a growing window of prefetches, random readers none, and
// prefetched chunks nobody reads are counted as wasted and evicted first.
#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "cache/snapshot_session.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddChunk;
using ::chunkcache::testing::AddFixedSnapshot;
using ::chunkcache::testing::MakeSource;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;

constexpr uint64_t kChunk = 64 * 1024;
constexpr size_t kChunks = 40;
constexpr char kDisk[] = "drive-scsi0.img.fidx";

class ReadaheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    faulty_->SetLatency(absl::Milliseconds(2));
    image_ = PseudoRandomBytes(kChunks * kChunk, 1);
    ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image_, kChunk).ok());
  }
  void OpenAll(uint64_t capacity, uint64_t max_pinned_bytes = ReadaheadOptions().max_pinned_bytes) {
    cache_ = OpenCache(SmallCacheOptions(dir_.path(), capacity));
    session_ = OpenSession(SessionOptionsWith(max_pinned_bytes));
  }
  static SessionOptions SessionOptionsWith(uint64_t max_pinned_bytes) {
    SessionOptions options;
    options.hinted_chunks = 0;
    options.readahead.max_gap_bytes = 16 * 1024;  // scaled to these 64 KiB chunks
    options.readahead.max_pinned_bytes = max_pinned_bytes;
    return options;
  }
  std::shared_ptr<SnapshotSession> OpenSession(const SessionOptions& options) {
    auto session = SnapshotSession::Open(cache_.get(), DatastoreRef{"store1", faulty_, nullptr},
                                         TestSnapshot(1000), kDisk, options);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *std::move(session) : nullptr;
  }
  void ReadChunk(size_t entry) { ReadChunkOf(*session_, entry); }
  void ReadChunkOf(SnapshotSession& session, size_t entry) {
    absl::StatusOr<RangeRead> read =
        session.Read(entry * kChunk, kChunk, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->CopyBytes(), image_.substr(entry * kChunk, kChunk));
  }
  void WaitForIdleFetches() {
    ASSERT_TRUE(WaitFor([&] {
      CacheStats s = cache_->Stats();
      return s.fetches_running + s.fetches_queued_demand + s.fetches_queued_prefetch == 0;
    }));
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::string image_;
  std::unique_ptr<ChunkCache> cache_;
  std::shared_ptr<SnapshotSession> session_;
};

TEST_F(ReadaheadTest, SequentialReaderGetsAGrowingWindow) {
  OpenAll(16 << 20);
  std::vector<uint64_t> requested_per_read;
  uint64_t before = 0;
  for (size_t entry = 0; entry < kChunks; ++entry) {
    ReadChunk(entry);
    const uint64_t now = session_->readahead_chunks_requested();
    requested_per_read.push_back(now - before);
    before = now;
  }
  // The third read proves the stream sequential: 2 chunks ahead; then the window doubles to
  // 4, 8, 16 as the reader arrives in prefetched chunks, and each later read tops it up.
  const std::vector<uint64_t> growth(requested_per_read.begin(), requested_per_read.begin() + 8);
  EXPECT_EQ(growth, (std::vector<uint64_t>{0, 0, 2, 3, 5, 9, 1, 1}));
  EXPECT_EQ(session_->readahead_window(), 16u);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.lookups.miss, 3u);  // only chunks 0..2 were waited for from scratch
  EXPECT_EQ(stats.lookups.hit + stats.lookups.coalesced, kChunks - 3);
  EXPECT_EQ(memory_->TotalChunkReads(), kChunks);  // nothing fetched twice, nothing past the end
  EXPECT_EQ(stats.prefetch_used, kChunks - 3);
}

TEST_F(ReadaheadTest, RandomReaderTriggersNoPrefetch) {
  OpenAll(16 << 20);
  std::vector<size_t> order;
  for (size_t entry = 0; entry < kChunks; entry += 2) order.push_back(entry);
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (size_t entry : order) ReadChunk(entry);
  WaitForIdleFetches();
  EXPECT_EQ(session_->readahead_chunks_requested(), 0u);
  EXPECT_EQ(session_->readahead_window(), 0u);
  EXPECT_EQ(memory_->TotalChunkReads(), order.size());
}

// 32 readers of one cold chunk at once (a herd, or one client retrying) share one fetch and
// start no readahead: only reads that move a stream forward count as sequential.
TEST_F(ReadaheadTest, HerdOfColdReadersOfOneChunkFetchesOnlyThatChunk) {
  OpenAll(16 << 20);
  faulty_->HoldCalls();
  std::vector<RangeReadTicket> tickets;
  auto done = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 32; ++i) {
    tickets.push_back(session_->ReadAsync(0, kChunk, [done](absl::StatusOr<RangeRead> read) {
      EXPECT_TRUE(read.ok()) << read.status();
      done->fetch_add(1);
    }));
    ASSERT_FALSE(tickets.back().ready());
  }
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return done->load() == 32; }));
  WaitForIdleFetches();
  EXPECT_EQ(session_->readahead_chunks_requested(), 0u);
  EXPECT_EQ(memory_->TotalChunkReads(), 1u);
}

TEST_F(ReadaheadTest, GuestReadsDoNotConfuseARestoreStream) {
  OpenAll(16 << 20);
  std::mt19937 rng(9);
  for (size_t entry = 0; entry < 24; ++entry) {
    ReadChunk(entry);                        // the restore streams the disk
    ReadChunk(28 + rng() % (kChunks - 28));  // the guest reads elsewhere
  }
  EXPECT_EQ(session_->readahead_window(), 16u);
}

TEST_F(ReadaheadTest, UnusedPrefetchesAreWastedAndEvictedBeforeReadersChunks) {
  OpenAll(16 * kChunk, /*max_pinned_bytes=*/0);                 // unpinned readahead
  for (size_t entry = 0; entry < 5; ++entry) ReadChunk(entry);  // prefetches chunks 5..12
  WaitForIdleFetches();
  ASSERT_EQ(session_->readahead_chunks_requested(), 10u);  // 3..12
  ASSERT_EQ(cache_->Stats().entries, 13u);
  // A reader's working set elsewhere: demand reads of chunks far from the stream.
  std::vector<ChunkRequest> other;
  auto source = MakeSource(faulty_, "store1");
  for (int i = 0; i < 6; ++i) {
    ChunkDigest digest = AddChunk(*memory_, PseudoRandomBytes(kChunk, 500 + i));
    other.push_back(MakeChunkRequest(source, digest, kChunk));
    ASSERT_TRUE(cache_->Get(other.back(), absl::Now() + absl::Seconds(30)).ok());
  }
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.prefetch_wasted, 3u);  // 19 chunks for 16 places
  EXPECT_EQ(stats.prefetch_used, 2u);    // chunks 3 and 4
  // The prefetched-but-unread chunks went first; every demand-read chunk is still here.
  for (const ChunkRequest& r : other) EXPECT_TRUE(cache_->Contains(r.cache_key));
  for (size_t entry = 0; entry < 5; ++entry) {
    EXPECT_TRUE(cache_->Contains(session_->RequestFor(entry).cache_key)) << entry;
  }
}

// A readahead window survives a full cache: its chunks stay pinned until the reader arrives
// (within the pin budget, an eighth of the cache here), and are released as it reads them.
// Without pins, the same demand traffic evicts them first (they are unread prefetches).
TEST_F(ReadaheadTest, ReadaheadWindowIsPinnedUntilTheReaderArrives) {
  for (const bool pinned : {true, false}) {
    SCOPED_TRACE(pinned ? "pinned" : "not pinned");
    session_.reset();
    cache_.reset();
    OpenAll(32 * kChunk, pinned ? ReadaheadOptions().max_pinned_bytes : 0);  // budget: 4 chunks
    for (size_t entry = 0; entry < 4; ++entry) ReadChunk(entry);             // requests chunks 3..7
    WaitForIdleFetches();
    ASSERT_EQ(session_->readahead_chunks_requested(), 5u);
    EXPECT_EQ(session_->readahead_chunks_pinned(), pinned ? 4u : 0u);  // 4..7; 3 was read
    // Demand reads elsewhere, more than the whole cache.
    auto source = MakeSource(faulty_, "store1");
    for (int i = 0; i < 40; ++i) {
      ChunkDigest digest = AddChunk(*memory_, PseudoRandomBytes(kChunk, 700 + i));
      ASSERT_TRUE(
          cache_->Get(MakeChunkRequest(source, digest, kChunk), absl::Now() + absl::Seconds(30))
              .ok());
    }
    for (size_t entry = 4; entry < 8; ++entry) {
      EXPECT_EQ(cache_->Contains(session_->RequestFor(entry).cache_key), pinned) << entry;
    }
    const uint64_t reads_before = memory_->TotalChunkReads();
    ReadChunk(4);
    ReadChunk(5);
    WaitForIdleFetches();
    if (pinned) {
      EXPECT_EQ(cache_->Stats().prefetch_used, 3u);  // chunks 3, 4 and 5
      // 4 and 5 came from the pinned window (no upstream read for them); the window moved on.
      EXPECT_EQ(memory_->TotalChunkReads() - reads_before,
                session_->readahead_chunks_requested() - 5);
    }
    EXPECT_LE(session_->readahead_chunks_pinned(), 4u);
    session_->ReleaseHints();  // what closing the session does
    EXPECT_EQ(session_->readahead_chunks_pinned(), 0u);
    EXPECT_EQ(cache_->Stats().pinned_bytes, 0u);
  }
}

// A restore's reads of its own readahead chunks are not uses: read in four pieces each, they
// stay first in line for eviction, after it as before it, so a random reader's working set
// survives the restore. Another reader's read of one promotes it like any hit. Evicted after
// the restore read them, they are not wasted prefetches.
TEST_F(ReadaheadTest, ARestoresReadsOfItsReadaheadDoNotPromoteIt) {
  OpenAll(32 * kChunk);  // pin budget: 4 chunks
  auto source = MakeSource(faulty_, "store1");
  std::vector<ChunkRequest> working_set;
  for (int i = 0; i < 8; ++i) {
    ChunkDigest digest = AddChunk(*memory_, PseudoRandomBytes(kChunk, 900 + i));
    working_set.push_back(MakeChunkRequest(source, digest, kChunk));
    ASSERT_TRUE(cache_->Get(working_set.back(), absl::Now() + absl::Seconds(30)).ok());
  }
  constexpr uint64_t kPiece = kChunk / 4;
  for (size_t entry = 0; entry < 20; ++entry) {
    for (uint64_t piece = 0; piece < 4; ++piece) {
      const uint64_t offset = entry * kChunk + piece * kPiece;
      absl::StatusOr<RangeRead> read =
          session_->Read(offset, kPiece, absl::Now() + absl::Seconds(30));
      ASSERT_TRUE(read.ok()) << read.status();
      ASSERT_EQ(read->CopyBytes(), image_.substr(offset, kPiece));
    }
  }
  WaitForIdleFetches();
  // Readahead starts at the third read (a piece of chunk 0): the restore read 1..19 from it,
  // and it pins the next chunks (at most 4).
  EXPECT_EQ(cache_->Stats().prefetch_used, 19u);
  EXPECT_LE(session_->readahead_chunks_pinned(), 4u);
  // Another reader (a second session) reads chunk 15, and a random read of this session (a
  // guest next to its restore, behind the stream) reads chunk 10: both are uses.
  SessionOptions options;
  options.hinted_chunks = 0;
  auto other = SnapshotSession::Open(cache_.get(), DatastoreRef{"store1", faulty_, nullptr},
                                     TestSnapshot(1000), kDisk, options);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Read(15 * kChunk, kChunk, absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(session_->Read(10 * kChunk, kChunk, absl::Now() + absl::Seconds(30)).ok());
  // Demand reads of 17 new chunks in the full cache: 17 victims, the chunks the restore read
  // ahead and read (1..19 but 10 and 15), before any of the working set or chunk 0 (a miss).
  for (int i = 0; i < 17; ++i) {
    ChunkDigest digest = AddChunk(*memory_, PseudoRandomBytes(kChunk, 950 + i));
    ASSERT_TRUE(
        cache_->Get(MakeChunkRequest(source, digest, kChunk), absl::Now() + absl::Seconds(30))
            .ok());
  }
  for (const ChunkRequest& r : working_set) EXPECT_TRUE(cache_->Contains(r.cache_key));
  EXPECT_TRUE(cache_->Contains(session_->RequestFor(0).cache_key));
  for (size_t entry = 1; entry < 20; ++entry) {
    EXPECT_EQ(cache_->Contains(session_->RequestFor(entry).cache_key), entry == 10 || entry == 15)
        << entry;
  }
  EXPECT_EQ(cache_->Stats().prefetch_wasted, 0u);
}

// Readahead stops at the session's pin budget and plans the rest at the next read: every
// readahead chunk is pinned until the reader reaches it.
TEST_F(ReadaheadTest, ReadaheadStopsAtThePinBudget) {
  OpenAll(32 * kChunk);  // pin budget: 4 chunks; the window grows to 16
  for (size_t entry = 0; entry < 30; ++entry) {
    ReadChunk(entry);
    WaitForIdleFetches();
    EXPECT_LE(session_->readahead_chunks_pinned(), 4u) << entry;
    for (size_t ahead = entry + 5; ahead < kChunks; ++ahead) {
      EXPECT_FALSE(cache_->Contains(session_->RequestFor(ahead).cache_key))
          << entry << " " << ahead;
    }
  }
  EXPECT_EQ(session_->readahead_chunks_pinned(), 4u);      // 30..33
  EXPECT_EQ(session_->readahead_chunks_requested(), 31u);  // 3..33
  EXPECT_EQ(cache_->Stats().prefetch_wasted, 0u);
}

// Readahead pins of all sessions together stay within the cache's budget (here 10 chunks;
// each session alone could pin 8): four paused restores cannot pin the cache between them.
// Readahead stops at the budget, reads do not fail, and the budget comes back when they close.
TEST_F(ReadaheadTest, ReadaheadPinsOfAllSessionsStayWithinTheCacheWideBudget) {
  ChunkCacheOptions cache_options = SmallCacheOptions(dir_.path(), 64 * kChunk);
  cache_options.max_readahead_pinned_bytes = 10 * kChunk;
  cache_ = OpenCache(cache_options);
  std::vector<std::shared_ptr<SnapshotSession>> sessions;
  for (int i = 0; i < 4; ++i) {
    sessions.push_back(OpenSession(SessionOptionsWith(ReadaheadOptions().max_pinned_bytes)));
    ASSERT_NE(sessions.back(), nullptr);
  }
  for (size_t i = 0; i < sessions.size(); ++i) {
    // Each restore reads 4 chunks of its own region (10 chunks apart), then pauses.
    for (size_t entry = 10 * i; entry < 10 * i + 4; ++entry) ReadChunkOf(*sessions[i], entry);
    WaitForIdleFetches();
  }
  size_t pinned = 0;
  for (const auto& session : sessions) pinned += session->readahead_chunks_pinned();
  EXPECT_EQ(sessions[0]->readahead_chunks_pinned(), 4u);  // the first had the budget to itself
  EXPECT_EQ(pinned, 10u);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.readahead_pinned_bytes, 10 * kChunk);
  EXPECT_EQ(stats.max_readahead_pinned_bytes, 10 * kChunk);
  EXPECT_EQ(stats.pinned_bytes, 10 * kChunk);
  // A reader reaching its pinned chunks frees budget that the next read ahead can use.
  ReadChunkOf(*sessions[0], 4);
  WaitForIdleFetches();
  EXPECT_LE(cache_->Stats().readahead_pinned_bytes, 10 * kChunk);
  for (const auto& session : sessions) session->ReleaseHints();  // what closing them does
  stats = cache_->Stats();
  EXPECT_EQ(stats.readahead_pinned_bytes, 0u);
  EXPECT_EQ(stats.pinned_bytes, 0u);
}

// A restore that stops reading (a paused client, a stalled stream) gives its readahead pins
// back once it has not read for pin_idle_timeout: the chunks stay cached but evictable.
TEST_F(ReadaheadTest, StalledReaderGivesItsReadaheadPinsBackAfterTheIdleTimeout) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 64 * kChunk));
  SessionOptions options = SessionOptionsWith(ReadaheadOptions().max_pinned_bytes);
  options.readahead.pin_idle_timeout = absl::Minutes(1);
  session_ = OpenSession(options);
  ASSERT_NE(session_, nullptr);
  for (size_t entry = 0; entry < 4; ++entry) ReadChunk(entry);
  WaitForIdleFetches();
  ASSERT_EQ(session_->readahead_chunks_pinned(), 4u);
  EXPECT_EQ(session_->ReleaseIdleReadaheadPins(absl::Now()), 0u);  // it read just now
  EXPECT_EQ(session_->readahead_chunks_pinned(), 4u);
  EXPECT_EQ(session_->ReleaseIdleReadaheadPins(absl::Now() + absl::Minutes(2)), 4u);
  EXPECT_EQ(session_->readahead_chunks_pinned(), 0u);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.pinned_bytes, 0u);
  EXPECT_EQ(stats.readahead_pinned_bytes, 0u);
  for (size_t entry = 4; entry < 8; ++entry) {
    EXPECT_TRUE(cache_->Contains(session_->RequestFor(entry).cache_key)) << entry;
  }
  // The reader comes back: its reads still work and readahead carries on.
  ReadChunk(4);
  ReadChunk(5);
  WaitForIdleFetches();
  EXPECT_GT(session_->readahead_chunks_pinned(), 0u);
}

// The registry's reaper takes the pins back on its own, also from a session that a call still
// holds open (an in-flight StreamRange whose client stopped reading).
TEST_F(ReadaheadTest, RegistryReaperTakesBackPinsOfAStalledSessionItCannotClose) {
  cache_ = OpenCache(SmallCacheOptions(dir_.path(), 64 * kChunk));
  SessionOptions options = SessionOptionsWith(ReadaheadOptions().max_pinned_bytes);
  options.readahead.pin_idle_timeout = absl::Milliseconds(100);
  SessionRegistry registry(cache_.get(), options);
  absl::StatusOr<std::shared_ptr<SnapshotSession>> held =
      registry.Open(DatastoreRef{"store1", faulty_, nullptr}, TestSnapshot(1000), kDisk);
  ASSERT_TRUE(held.ok()) << held.status();
  for (size_t entry = 0; entry < 4; ++entry) ReadChunkOf(**held, entry);
  // Pins arrive with their fetches and go once the session has been idle for 100 ms.
  ASSERT_TRUE(WaitFor([&] {
    return (*held)->readahead_chunks_requested() >= 5 && cache_->Stats().pinned_bytes == 0 &&
           cache_->Stats().readahead_pinned_bytes == 0;
  }));
  EXPECT_EQ((*held)->readahead_chunks_pinned(), 0u);
  EXPECT_EQ(registry.open_sessions(), 1u);  // still open: a caller holds it
}

// A lone restore through a small cache that is already full of other chunks fetches each of
// its chunks once: nothing it read ahead is evicted before it gets there.
TEST_F(ReadaheadTest, LoneRestoreThroughASmallFullCacheFetchesEachChunkOnce) {
  OpenAll(16 * kChunk);  // pin budget: 2 chunks
  auto source = MakeSource(faulty_, "store1");
  for (int i = 0; i < 16; ++i) {
    ChunkDigest digest = AddChunk(*memory_, PseudoRandomBytes(kChunk, 800 + i));
    ASSERT_TRUE(
        cache_->Get(MakeChunkRequest(source, digest, kChunk), absl::Now() + absl::Seconds(30))
            .ok());
  }
  const uint64_t reads_before = memory_->TotalChunkReads();
  const uint64_t misses_before = cache_->Stats().lookups.miss;
  constexpr uint64_t kPiece = kChunk / 2;
  for (uint64_t offset = 0; offset < kChunks * kChunk; offset += kPiece) {
    absl::StatusOr<RangeRead> read =
        session_->Read(offset, kPiece, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->CopyBytes(), image_.substr(offset, kPiece));
  }
  WaitForIdleFetches();
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.prefetch_wasted, 0u);
  EXPECT_EQ(stats.prefetch_used, kChunks - 2);  // readahead starts at the third read (chunk 1)
  // Chunks 0 and 1 are demand misses, read in two pieces each; in this cache, full and tiny, the
  // policy may evict one of them between its pieces to make room for the first readahead fills
  // (whether it does depends on when those fills land), and the next piece fetches it again.
  // Every chunk read ahead is fetched exactly once.
  const uint64_t demand_fetches = stats.lookups.miss - misses_before;
  EXPECT_GE(demand_fetches, 2u);
  EXPECT_LE(demand_fetches, 4u);
  EXPECT_EQ(memory_->TotalChunkReads() - reads_before, (kChunks - 2) + demand_fetches);
}

}  // namespace
}  // namespace chunkcache
