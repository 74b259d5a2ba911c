// The live cache feeding the index-aware policy (policy `index`): sessions register their
// sequential readers as streams, and the policy keeps what a stream will read and evicts what
// every stream has passed. A real ChunkCache over a real datastore directory (written with
// DatastoreWriter, read with DatastoreUpstream); upstream fetches are counted by the cache's
// own stats. Readahead is off so that every fetch is a reader's and the counts are exact; the
// readahead detector still recognises the sequential readers.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "cache/internal/result_slot.h"
#include "cache/session_registry.h"
#include "cache/snapshot_session.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/datastore_upstream.h"
#include "upstream/datastore_writer.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddFixedSnapshot;
using ::chunkcache::testing::BuiltSnapshot;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;

constexpr uint64_t kChunk = 64 * 1024;
constexpr size_t kChunks = 64;
constexpr char kDisk[] = "drive-scsi0.img.fidx";

class StreamFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Built in memory, then written out as a PBS datastore directory.
    MemoryUpstream memory;
    image_ = PseudoRandomBytes(kChunks * kChunk, 7);
    absl::StatusOr<BuiltSnapshot> built =
        AddFixedSnapshot(memory, TestSnapshot(1000), kDisk, image_, kChunk);
    ASSERT_TRUE(built.ok()) << built.status();
    absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer =
        DatastoreWriter::Create(store_dir_.path());
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const ChunkDigest& digest : built->digests) {
      absl::StatusOr<std::string> blob = memory.ReadChunk(digest, ChunkReadOptions{});
      ASSERT_TRUE(blob.ok()) << blob.status();
      ASSERT_TRUE((*writer)->WriteChunk(digest, *blob).ok());
    }
    for (const char* file : {kDisk, "index.json.blob"}) {
      absl::StatusOr<std::string> bytes = memory.ReadSnapshotFile(TestSnapshot(1000), file);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      ASSERT_TRUE((*writer)->WriteSnapshotFile(TestSnapshot(1000), file, *bytes).ok());
    }
    ASSERT_TRUE((*writer)->EnsureGroupOwner(TestSnapshot(1000)).ok());
    absl::StatusOr<std::unique_ptr<DatastoreUpstream>> store =
        DatastoreUpstream::Open(store_dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    upstream_ = std::shared_ptr<Upstream>(*std::move(store));
  }

  // A cache of `chunks` chunks with `policy` in `dir` (cache_dir_ by default), and a session
  // of the archive on it.
  void OpenAll(std::string_view policy, size_t chunks, const ScratchDir* dir = nullptr) {
    ChunkCacheOptions options =
        SmallCacheOptions((dir != nullptr ? *dir : cache_dir_).path(), chunks * kChunk);
    options.policy = std::string(policy);
    cache_ = OpenCache(options);
    ASSERT_NE(cache_, nullptr);
    SessionOptions session_options = session_options_;
    session_options.hinted_chunks = 0;
    session_options.readahead.enabled = false;
    session_options.readahead.max_gap_bytes = 16 * 1024;
    auto session = SnapshotSession::Open(cache_.get(), DatastoreRef{"store1", upstream_, nullptr},
                                         TestSnapshot(1000), kDisk, session_options);
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
  }

  // Reads index entry `entry` whole and checks its bytes; the pins go with the read. First
  // waits for the fetch workers to drop their references to earlier chunks, so that every
  // eviction chooses among the same chunks whatever the timing.
  void ReadChunk(size_t entry) {
    WaitUnpinned(*cache_);
    absl::StatusOr<RangeRead> read =
        session_->Read(entry * kChunk, kChunk, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->CopyBytes(), image_.substr(entry * kChunk, kChunk));
  }

  // ReadChunk as the reader that declared `stream`.
  void ReadChunkAs(const RangeStream& stream, size_t entry) {
    WaitUnpinned(*cache_);
    absl::StatusOr<RangeRead> read = ReadDeclared(stream, entry, /*requester=*/0);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->CopyBytes(), image_.substr(entry * kChunk, kChunk));
  }
  // Reads chunk `entry` as `requester`, the reader that declared `stream`, and waits for it.
  absl::StatusOr<RangeRead> ReadDeclared(const RangeStream& stream, size_t entry,
                                         uint64_t requester) {
    using Slot = internal::ResultSlot<absl::StatusOr<RangeRead>>;
    auto slot = std::make_shared<Slot>();
    RangeReadTicket ticket = session_->ReadAsync(
        entry * kChunk, kChunk,
        [slot](absl::StatusOr<RangeRead> read) { slot->Set(std::move(read)); }, requester, &stream);
    return ticket.ready() ? ticket.TakeResult() : (slot->Wait(), slot->Take());
  }
  RangeStream Declare(size_t first, size_t end) {
    return session_->OpenRangeStream(first * kChunk, end * kChunk);
  }

  static void WaitUnpinned(ChunkCache& cache) {
    ASSERT_TRUE(WaitFor([&] { return cache.Stats().pinned_bytes == 0; }));
  }

  uint64_t UpstreamFetches() const {
    uint64_t fetches = 0;
    for (const DatastoreFetchCounts& counts : cache_->Stats().fetches) fetches += counts.ok;
    return fetches;
  }
  bool Cached(size_t entry) const {
    return cache_->Contains(session_->RequestFor(entry).cache_key);
  }

  SessionOptions session_options_;  // the base of OpenAll's session options
  ScratchDir store_dir_;
  ScratchDir cache_dir_;
  std::string image_;
  std::shared_ptr<Upstream> upstream_;
  std::unique_ptr<ChunkCache> cache_;
  std::shared_ptr<SnapshotSession> session_;
};

// Two restores of one archive through a cache of half of it, the second started when the
// first is a quarter through: the chunks between the two readers are kept for the trailing
// one, so the archive is fetched once.
TEST_F(StreamFeedTest, TrailingReaderFindsTheChunksBetweenTheTwoCursors) {
  OpenAll("index", kChunks / 2);
  const size_t lead = kChunks / 4;
  for (size_t entry = 0; entry < lead; ++entry) ReadChunk(entry);
  for (size_t step = 0; step + lead < kChunks; ++step) {
    ReadChunk(step + lead);  // the leading restore
    ReadChunk(step);         // the trailing one
  }
  EXPECT_EQ(session_->reader_streams_open(), 2u);
  for (size_t entry = kChunks - lead; entry < kChunks; ++entry) ReadChunk(entry);
  EXPECT_EQ(UpstreamFetches(), kChunks);  // the trailing reader fetched nothing
  EXPECT_GT(cache_->Stats().evictions, 0u);
}

// The same two restores under the default policy refetch part of the archive for the trailing
// reader: what the test above asserts is the policy's doing, not the cache's size.
TEST_F(StreamFeedTest, DefaultPolicyRefetchesForTheTrailingReader) {
  OpenAll("switch", kChunks / 2);
  const size_t lead = kChunks / 4;
  for (size_t entry = 0; entry < lead; ++entry) ReadChunk(entry);
  for (size_t step = 0; step + lead < kChunks; ++step) {
    ReadChunk(step + lead);
    ReadChunk(step);
  }
  for (size_t entry = kChunks - lead; entry < kChunks; ++entry) ReadChunk(entry);
  EXPECT_EQ(session_->reader_streams_open(), 0u);  // no streams without the index policy
  EXPECT_GT(UpstreamFetches(), kChunks);
}

// A chunk behind every stream goes before a chunk a stream will read, even when the latter is
// older (the default policy would evict it first).
TEST_F(StreamFeedTest, DeadChunkIsEvictedBeforeAChunkAheadOfAStream) {
  OpenAll("index", 4);
  ReadChunk(40);  // a random reader, ahead of the stream to come
  for (size_t entry = 0; entry < 3; ++entry) ReadChunk(entry);  // a stream: 0, 1, 2
  ASSERT_EQ(session_->reader_streams_open(), 1u);
  ReadChunk(20);  // another random read needs room
  EXPECT_TRUE(Cached(40));
  EXPECT_TRUE(Cached(20));
  EXPECT_EQ(Cached(0) + Cached(1) + Cached(2), 2);  // one dead chunk went
}

// The default policy alone, on the same reads, evicts the oldest chunk (the one ahead of the
// stream): the difference above is the stream's.
TEST_F(StreamFeedTest, DefaultPolicyEvictsTheOldestChunkInstead) {
  OpenAll("switch", 4);
  ReadChunk(40);
  for (size_t entry = 0; entry < 3; ++entry) ReadChunk(entry);
  ReadChunk(20);
  EXPECT_FALSE(Cached(40));
}

// A reader that reads downwards (a restore from the end) is a backward stream: the chunks it
// passed, above it, are dead and go first; a chunk below it, which it will read, stays although
// it is the oldest. Nothing is fetched twice.
TEST_F(StreamFeedTest, BackwardReaderMakesTheChunksItPassedTheFirstVictims) {
  OpenAll("index", 4);
  ReadChunk(10);  // a random reader, below the backward reader to come
  for (size_t entry = 50; entry >= 40; --entry) {
    ReadChunk(entry);
    EXPECT_TRUE(Cached(10)) << "after reading " << entry;
  }
  EXPECT_EQ(session_->reader_streams_open(), 1u);
  EXPECT_EQ(cache_->open_streams(), 1u);
  EXPECT_GT(cache_->Stats().evictions, 0u);
  EXPECT_TRUE(Cached(40));
  EXPECT_FALSE(Cached(50));
  ReadChunk(10);  // reached by the backward reader later, still cached
  EXPECT_EQ(UpstreamFetches(), 12u);
  session_->ReleaseIdleReadaheadPins(absl::Now() + SessionOptions().readahead.pin_idle_timeout +
                                     absl::Seconds(1));
  EXPECT_EQ(cache_->open_streams(), 0u);  // closed like a forward stream
}

// The default policy on the same reads evicts the oldest chunk, the one below the reader: the
// difference above is the backward stream's.
TEST_F(StreamFeedTest, DefaultPolicyEvictsTheChunkBelowTheBackwardReader) {
  OpenAll("switch", 4);
  ReadChunk(10);
  for (size_t entry = 50; entry >= 40; --entry) ReadChunk(entry);
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  EXPECT_FALSE(Cached(10));
}

// A forward reader next to the backward one is registered and moved as before: two streams,
// and the chunks each passed go before the ones ahead of either.
TEST_F(StreamFeedTest, ForwardAndBackwardReadersAreBothStreams) {
  OpenAll("index", 6);
  for (size_t step = 0; step < 10; ++step) {
    ReadChunk(step);       // forward from the start
    ReadChunk(63 - step);  // backward from the end
    EXPECT_TRUE(Cached(step)) << step;
    EXPECT_TRUE(Cached(63 - step)) << step;
  }
  EXPECT_EQ(session_->reader_streams_open(), 2u);
  EXPECT_EQ(cache_->open_streams(), 2u);
  EXPECT_EQ(UpstreamFetches(), 20u);
}

// Once its reader goes idle the stream is closed and its future forgotten: the chunk ahead of
// it is then an ordinary chunk, and the oldest one goes.
TEST_F(StreamFeedTest, ClosingAStreamForgetsItsFuture) {
  OpenAll("index", 4);
  ReadChunk(40);
  for (size_t entry = 0; entry < 3; ++entry) ReadChunk(entry);
  ASSERT_EQ(session_->reader_streams_open(), 1u);
  session_->ReleaseIdleReadaheadPins(absl::Now() + SessionOptions().readahead.pin_idle_timeout +
                                     absl::Seconds(1));
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  ReadChunk(20);
  EXPECT_FALSE(Cached(40));
  EXPECT_TRUE(Cached(20));
}

// A reader that jumps starts a new stream; the one it left, no longer read, is closed after
// pin_max_reads of the session's reads rather than staying open with a stale cursor.
TEST_F(StreamFeedTest, AStreamItsReaderLeftIsClosed) {
  session_options_.readahead.pin_max_reads = 4;
  OpenAll("index", 16);
  for (size_t entry = 0; entry < 3; ++entry) ReadChunk(entry);
  ASSERT_EQ(session_->reader_streams_open(), 1u);
  for (size_t entry = 30; entry < 33; ++entry) ReadChunk(entry);
  EXPECT_EQ(session_->reader_streams_open(), 2u);  // the old one is not stale yet
  for (size_t entry = 33; entry < 36; ++entry) ReadChunk(entry);
  EXPECT_EQ(session_->reader_streams_open(), 1u);
}

// With policy `index` but no stream ever registered (readers that jump backwards by more than
// a chunk are never sequential), every eviction is the default policy's: the two caches hold
// the same chunks after every read.
TEST_F(StreamFeedTest, WithoutStreamsIndexPolicyEvictsAsTheDefault) {
  ScratchDir default_dir;
  OpenAll("switch", 8, &default_dir);
  std::unique_ptr<ChunkCache> default_cache = std::move(cache_);
  std::shared_ptr<SnapshotSession> default_session = std::move(session_);
  OpenAll("index", 8);

  std::vector<size_t> reads;
  for (size_t pass = 0; pass < 6; ++pass) {
    const size_t stride = pass % 3 + 2;
    for (size_t entry = 30 - pass; entry >= stride; entry -= stride) reads.push_back(entry);
    for (size_t entry = 12; entry >= 1; entry -= 2) reads.push_back(entry);
  }
  for (size_t entry : reads) {
    ReadChunk(entry);
    WaitUnpinned(*default_cache);
    {
      absl::StatusOr<RangeRead> read =
          default_session->Read(entry * kChunk, kChunk, absl::Now() + absl::Seconds(30));
      ASSERT_TRUE(read.ok()) << read.status();
    }
    WaitUnpinned(*cache_);
    WaitUnpinned(*default_cache);
    for (size_t e = 0; e < 32; ++e) {
      ASSERT_EQ(Cached(e), default_cache->Contains(session_->RequestFor(e).cache_key))
          << "entry " << e << " after reading " << entry;
    }
  }
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  EXPECT_GT(cache_->Stats().evictions, 0u);
  default_session.reset();
}

// A reader that declares its range (a StreamRange call) is a stream from its first read, not
// after the readahead detector saw three, and is closed when it ends.
TEST_F(StreamFeedTest, DeclaredReaderIsAStreamFromItsFirstRead) {
  OpenAll("index", 16);
  RangeStream stream = Declare(8, 24);
  EXPECT_EQ(session_->reader_streams_open(), 0u);  // registered by its first read
  ReadChunkAs(stream, 8);
  EXPECT_EQ(session_->reader_streams_open(), 1u);
  EXPECT_EQ(cache_->open_streams(), 1u);
  ReadChunkAs(stream, 9);
  ReadChunkAs(stream, 10);  // the detector's third read: no second stream for the same reader
  EXPECT_EQ(session_->reader_streams_open(), 1u);
  stream.Close();
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  EXPECT_EQ(cache_->open_streams(), 0u);
}

// Declared readers are not capped at the detector's streams (readahead.streams, 4): six
// restores of one archive each feed the policy.
TEST_F(StreamFeedTest, MoreDeclaredReadersThanDetectorStreamsAreAllRegistered) {
  OpenAll("index", 16);
  ASSERT_LT(session_options_.readahead.streams, 6u);
  std::vector<RangeStream> streams;
  for (size_t i = 0; i < 6; ++i) {
    streams.push_back(Declare(i * 8, kChunks));
    ReadChunkAs(streams.back(), i * 8);
  }
  EXPECT_EQ(session_->reader_streams_open(), 6u);
  EXPECT_EQ(cache_->open_streams(), 6u);
}

// Two StreamRange restores of the whole archive through a cache of half of it, the second
// started when the first is a quarter through: registered from their first reads, the
// trailing one fetches nothing.
TEST_F(StreamFeedTest, TrailingDeclaredReaderFindsTheChunksBetweenTheTwoCursors) {
  OpenAll("index", kChunks / 2);
  const size_t lead = kChunks / 4;
  RangeStream first = Declare(0, kChunks);
  for (size_t entry = 0; entry < lead; ++entry) ReadChunkAs(first, entry);
  RangeStream second = Declare(0, kChunks);
  for (size_t step = 0; step + lead < kChunks; ++step) {
    ReadChunkAs(first, step + lead);
    ReadChunkAs(second, step);
  }
  EXPECT_EQ(session_->reader_streams_open(), 2u);
  for (size_t entry = kChunks - lead; entry < kChunks; ++entry) ReadChunkAs(second, entry);
  EXPECT_EQ(UpstreamFetches(), kChunks);
  EXPECT_GT(cache_->Stats().evictions, 0u);
}

// A client opening a thousand streams on one archive registers max_reader_streams of them: the
// policy's streams (their memory, and the segments its victim search walks) stay bounded, the
// reads all succeed, and a waiting reader is registered at its next read once one ends.
TEST_F(StreamFeedTest, ManyDeclaredReadersAreBoundedByMaxReaderStreams) {
  session_options_.max_reader_streams = 16;
  OpenAll("index", 8);
  std::vector<RangeStream> streams;
  for (size_t i = 0; i < 1000; ++i) {
    streams.push_back(Declare(i % kChunks, kChunks));
    ReadChunkAs(streams.back(), i % kChunks);
  }
  EXPECT_EQ(session_->reader_streams_open(), 16u);
  EXPECT_EQ(cache_->open_streams(), 16u);
  EXPECT_GT(cache_->Stats().evictions, 0u);  // victims were searched with 16 streams open
  streams.front().Close();                   // a registered one ends
  EXPECT_EQ(session_->reader_streams_open(), 15u);
  ReadChunkAs(streams.back(), (999 % kChunks) + 1);  // an unregistered one reads on
  EXPECT_EQ(session_->reader_streams_open(), 16u);
  streams.clear();
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  EXPECT_EQ(cache_->open_streams(), 0u);
}

// A client opening declared streams on many archives (snapshots) registers at most
// max_policy_streams of them in all, although each archive stays within its own
// max_reader_streams; the readers past the bound read every byte correctly, unregistered, and
// one registers at its next read once a registered one ends.
TEST_F(StreamFeedTest, ManyArchivesStreamsAreBoundedByMaxPolicyStreams) {
  ScratchDir dir;
  ChunkCacheOptions options = SmallCacheOptions(dir.path(), 8 * kChunk);
  options.policy = "index";
  options.max_policy_streams = 5;
  cache_ = OpenCache(options);
  ASSERT_NE(cache_, nullptr);
  SessionOptions session_options;
  session_options.hinted_chunks = 0;
  session_options.readahead.enabled = false;
  session_options.max_reader_streams = 2;
  // One archive opened as eight sessions (as eight snapshots of it would be): each its own
  // stream order and its own per-archive bound.
  std::vector<std::shared_ptr<SnapshotSession>> sessions;
  std::vector<RangeStream> streams;
  for (size_t archive = 0; archive < 8; ++archive) {
    auto session = SnapshotSession::Open(cache_.get(), DatastoreRef{"store1", upstream_, nullptr},
                                         TestSnapshot(1000), kDisk, session_options);
    ASSERT_TRUE(session.ok()) << session.status();
    sessions.push_back(*std::move(session));
    session_ = sessions.back();
    for (size_t reader = 0; reader < 3; ++reader) {
      streams.push_back(Declare(reader * 8, kChunks));
      ReadChunkAs(streams.back(), reader * 8);
      ReadChunkAs(streams.back(), reader * 8 + 1);
    }
    EXPECT_LE(sessions.back()->reader_streams_open(), 2u);
    EXPECT_LE(cache_->open_streams(), 5u);
  }
  size_t registered = 0;
  for (const auto& session : sessions) registered += session->reader_streams_open();
  EXPECT_EQ(registered, 5u);
  EXPECT_EQ(cache_->open_streams(), 5u);
  EXPECT_EQ(cache_->Stats().policy_streams, 5u);  // the chunkcache_policy_streams gauge
  EXPECT_EQ(sessions[0]->reader_streams_open(), 2u);
  EXPECT_EQ(sessions[7]->reader_streams_open(), 0u);
  // A registered reader ends; an unregistered one of the last archive takes its place.
  streams.front().Close();
  EXPECT_EQ(cache_->open_streams(), 4u);
  session_ = sessions[7];
  ReadChunkAs(streams.back(), 16 + 2);
  EXPECT_EQ(sessions[7]->reader_streams_open(), 1u);
  EXPECT_EQ(cache_->open_streams(), 5u);
  streams.clear();
  EXPECT_EQ(cache_->open_streams(), 0u);
  session_.reset();
  sessions.clear();
}

// With the index policy an archive's stream order, the policy's position index of it and its
// ordered set of the cached keys' positions are charged to the open-index budget (the
// chunkcache_open_index_bytes gauge reads open_index_bytes()); with another policy they are not.
TEST_F(StreamFeedTest, OpenIndexBytesIncludeTheStreamOrderWithTheIndexPolicy) {
  uint64_t charged[2] = {0, 0};
  const char* policies[2] = {"switch", "index"};
  for (int i = 0; i < 2; ++i) {
    ScratchDir dir;
    ChunkCacheOptions options = SmallCacheOptions(dir.path(), 16 * kChunk);
    options.policy = policies[i];
    std::unique_ptr<ChunkCache> cache = OpenCache(options);
    ASSERT_NE(cache, nullptr);
    SessionRegistry registry(cache.get(), SessionOptions{});
    absl::StatusOr<std::shared_ptr<SnapshotSession>> session =
        registry.Open(DatastoreRef{"store1", upstream_, nullptr}, TestSnapshot(1000), kDisk);
    ASSERT_TRUE(session.ok()) << session.status();
    charged[i] = registry.open_index_bytes();
    EXPECT_EQ(charged[i], (*session)->heap_bytes());
    session->reset();
    registry.CloseAll();
  }
  EXPECT_EQ(charged[1] - charged[0], StreamOrderHeapBytes(kChunks, kChunks));
  // The order, its position index and the policy's ordered set of the cached keys' positions,
  // each position charged as if its key were cached.
  EXPECT_GE(charged[1] - charged[0],
            kChunks * (sizeof(ChunkDigest) + sizeof(uint64_t) + kTrackedPositionBytes));
}

// Readers on several threads declaring, reading and ending their streams at once, more of them
// than max_reader_streams (run under TSan too): every read succeeds and no stream is left.
TEST_F(StreamFeedTest, ConcurrentDeclaredReadersLeaveNoStreamBehind) {
  session_options_.max_reader_streams = 3;
  OpenAll("index", 16);
  constexpr size_t kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<size_t> failures{0};
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        const size_t first = (t * 8 + static_cast<size_t>(round)) % (kChunks - 8);
        RangeStream stream = Declare(first, first + 8);
        for (size_t entry = first; entry < first + 8; ++entry) {
          // Every read is the declared reader's: an undeclared one would let the readahead
          // detector register a stream of its own, which outlives the test's readers.
          absl::StatusOr<RangeRead> read = ReadDeclared(stream, entry, /*requester=*/t + 1);
          if (!read.ok() || read->CopyBytes() != image_.substr(entry * kChunk, kChunk)) {
            ++failures;
          }
        }
        if (session_->reader_streams_open() > 3) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(session_->reader_streams_open(), 0u);
  EXPECT_EQ(cache_->open_streams(), 0u);
}

}  // namespace
}  // namespace chunkcache
