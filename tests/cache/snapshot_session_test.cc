// SnapshotSession: opening checks, range reads, sharing between snapshots, prefetch, stats.
#include "cache/snapshot_session.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "format/chunk_index.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddDynamicIndex;
using ::chunkcache::testing::AddDynamicSnapshot;
using ::chunkcache::testing::AddFixedSnapshot;
using ::chunkcache::testing::BuiltSnapshot;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestKey;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;

constexpr uint64_t kChunk = 64 * 1024;
constexpr char kDisk[] = "drive-scsi0.img.fidx";

class SnapshotSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    cache_ = OpenCache(SmallCacheOptions(dir_.path(), 16 << 20));
    options_.hinted_chunks = 0;
  }
  DatastoreRef Store(std::shared_ptr<const CryptConfig> key = nullptr) {
    return DatastoreRef{"store1", faulty_, std::move(key)};
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> OpenSession(
      const SnapshotName& snapshot, std::string_view archive = kDisk,
      std::shared_ptr<const CryptConfig> key = nullptr) {
    return SnapshotSession::Open(cache_.get(), Store(std::move(key)), snapshot, archive, options_);
  }
  static absl::Time Soon() { return absl::Now() + absl::Seconds(30); }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<ChunkCache> cache_;
  SessionOptions options_;
};

TEST_F(SnapshotSessionTest, ReadsAcrossChunkBoundariesAndStopsAtTheEnd) {
  const std::string image = PseudoRandomBytes(10 * kChunk + 5000, 1);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk).ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok()) << session.status();

  absl::StatusOr<RangeRead> middle = (*session)->Read(kChunk - 100, 2 * kChunk + 200, Soon());
  ASSERT_TRUE(middle.ok()) << middle.status();
  EXPECT_EQ(middle->offset, kChunk - 100);
  EXPECT_EQ(middle->slices.size(), 4u);
  EXPECT_EQ(middle->slices[0].offset_in_chunk, kChunk - 100);
  EXPECT_EQ(middle->slices[0].length, 100u);
  EXPECT_EQ(middle->CopyBytes(), image.substr(kChunk - 100, 2 * kChunk + 200));
  EXPECT_FALSE(middle->eof);

  absl::StatusOr<RangeRead> tail = (*session)->Read(image.size() - 10, 1000, Soon());
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->CopyBytes(), image.substr(image.size() - 10));
  EXPECT_TRUE(tail->eof);
  absl::StatusOr<RangeRead> exact = (*session)->Read(image.size() - 5000, 5000, Soon());
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->eof);
  EXPECT_EQ(exact->slices[0].chunk.size(), 5000u);  // the short last chunk

  EXPECT_EQ((*session)->Read(image.size(), 1, Soon()).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*session)->Read(uint64_t{1} << 60, 1, Soon()).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*session)->Read(0, 0, Soon()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*session)->Read(0, options_.max_read_bytes + 1, Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Without a read limit, a length that would overflow offset + length is cut at the end.
  options_.max_read_bytes = ~uint64_t{0};
  auto unlimited = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(unlimited.ok());
  absl::StatusOr<RangeRead> to_end = (*unlimited)->Read(5, ~uint64_t{0}, Soon());
  ASSERT_TRUE(to_end.ok()) << to_end.status();
  EXPECT_EQ(to_end->CopyBytes(), image.substr(5));
  EXPECT_TRUE(to_end->eof);
}

TEST_F(SnapshotSessionTest, DynamicIndexReadsVariableChunksAndRepeatsShareOneLookup) {
  std::vector<std::string> chunks = {PseudoRandomBytes(70000, 1), PseudoRandomBytes(1, 2),
                                     PseudoRandomBytes(130000, 3), PseudoRandomBytes(70000, 1)};
  std::string stream;
  for (const std::string& c : chunks) stream += c;
  ASSERT_TRUE(
      AddDynamicSnapshot(*memory_, TestSnapshot(1000, "ct1"), "root.pxar.didx", chunks).ok());
  auto session = OpenSession(TestSnapshot(1000, "ct1"), "root.pxar.didx");
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<RangeRead> all = (*session)->Read(0, stream.size(), Soon());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->CopyBytes(), stream);
  EXPECT_TRUE(all->eof);
  EXPECT_EQ(all->slices.size(), 4u);
  EXPECT_EQ(memory_->TotalChunkReads(), 3u);  // the repeated chunk was fetched once
  EXPECT_EQ((*session)->Read(70000, 1, Soon())->CopyBytes(), chunks[1]);
  EXPECT_EQ((*session)->Stats().chunk_size, 0u);
  EXPECT_EQ((*session)->Stats().distinct_chunks, 3u);
}

TEST_F(SnapshotSessionTest, SnapshotsSharingChunksShareCacheEntries) {
  std::string first = PseudoRandomBytes(12 * kChunk, 7);
  std::string second = first;
  second.replace(3 * kChunk, 10, "0123456789");  // two chunks differ
  second.replace(9 * kChunk + 7, 3, "abc");
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, first, kChunk).ok());
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(2000), kDisk, second, kChunk).ok());
  auto a = OpenSession(TestSnapshot(1000));
  auto b = OpenSession(TestSnapshot(2000));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ((*a)->Read(0, first.size(), Soon())->CopyBytes(), first);
  EXPECT_EQ(memory_->TotalChunkReads(), 12u);
  ASSERT_EQ((*b)->Read(0, second.size(), Soon())->CopyBytes(), second);
  EXPECT_EQ(memory_->TotalChunkReads(), 14u);  // only the two differing chunks
  EXPECT_EQ(cache_->Stats().entries, 14u);
  EXPECT_EQ((*b)->Stats().cached_bytes, 12 * kChunk);
}

TEST_F(SnapshotSessionTest, EncryptedArchiveNeedsItsKey) {
  std::shared_ptr<const CryptConfig> key = TestKey();
  const std::string image = PseudoRandomBytes(3 * kChunk + 100, 9);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(3000), kDisk, image, kChunk, key.get()).ok());
  auto refused = OpenSession(TestSnapshot(3000));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();

  auto session = OpenSession(TestSnapshot(3000), kDisk, key);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Read(0, image.size(), Soon())->CopyBytes(), image);
  SnapshotStats stats = (*session)->Stats();
  EXPECT_EQ(stats.crypt_mode, "encrypt");
  EXPECT_EQ(stats.cached_bytes, image.size());
  // Cached under keyed cache keys, not under the bare digests.
  EXPECT_FALSE(cache_->Contains((*session)->index().digest(0)));
  EXPECT_TRUE(cache_->Contains((*session)->RequestFor(0).cache_key));
}

TEST_F(SnapshotSessionTest, IndexThatDoesNotMatchTheManifestIsRefused) {
  absl::StatusOr<BuiltSnapshot> a = AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk,
                                                     PseudoRandomBytes(4 * kChunk, 1), kChunk);
  absl::StatusOr<BuiltSnapshot> b = AddFixedSnapshot(*memory_, TestSnapshot(2000), kDisk,
                                                     PseudoRandomBytes(4 * kChunk, 2), kChunk);
  ASSERT_TRUE(a.ok() && b.ok());
  // Snapshot 1000 now holds snapshot 2000's index: same size, other checksum.
  ASSERT_TRUE(memory_->AddSnapshotFile(TestSnapshot(1000), kDisk, b->index_bytes).ok());
  auto session = OpenSession(TestSnapshot(1000));
  EXPECT_EQ(session.status().code(), absl::StatusCode::kDataLoss) << session.status();
  EXPECT_NE(session.status().message().find("checksum"), absl::string_view::npos);
  // A torn index file does not parse at all.
  ASSERT_TRUE(memory_
                  ->AddSnapshotFile(TestSnapshot(2000), kDisk,
                                    b->index_bytes.substr(0, b->index_bytes.size() - 5))
                  .ok());
  EXPECT_FALSE(OpenSession(TestSnapshot(2000)).ok());
}

TEST_F(SnapshotSessionTest, MissingArchivesAndBadNamesAreRefused) {
  ASSERT_TRUE(
      AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, PseudoRandomBytes(kChunk, 1), kChunk)
          .ok());
  EXPECT_EQ(OpenSession(TestSnapshot(1000), "drive-scsi1.img.fidx").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(OpenSession(TestSnapshot(4242)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(OpenSession(TestSnapshot(1000), "qemu-server.conf.blob").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSession(TestSnapshot(1000), "../x.fidx").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SnapshotSessionTest, PrefetchQueuesMissingChunksAndReportsCachedOnes) {
  const std::string image = PseudoRandomBytes(8 * kChunk, 3);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk).ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE((*session)->Read(0, kChunk, Soon()).ok());
  std::vector<ByteRange> ranges = {{0, 3 * kChunk}, {kChunk, 10}, {7 * kChunk, 1 << 30}};
  absl::StatusOr<PrefetchCounts> counts = (*session)->Prefetch(ranges);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->chunks_already_cached, 1u);
  EXPECT_EQ(counts->chunks_requested, 3u);  // chunks 1, 2 and 7, each once
  ASSERT_TRUE(WaitFor([&] { return (*session)->Stats().cached_bytes == 4 * kChunk; }));
  const uint64_t reads = memory_->TotalChunkReads();
  ASSERT_TRUE((*session)->Read(7 * kChunk, kChunk, Soon()).ok());
  EXPECT_EQ(memory_->TotalChunkReads(), reads);
  EXPECT_EQ(cache_->Stats().prefetch_used, 1u);

  EXPECT_EQ((*session)->Prefetch(std::vector<ByteRange>{{0, 0}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*session)->Prefetch(std::vector<ByteRange>{{image.size(), 1}}).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(SnapshotSessionTest, PrefetchRefusesMoreRangesThanTheCap) {
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk,
                               PseudoRandomBytes(8 * kChunk, 3), kChunk)
                  .ok());
  options_.max_prefetch_ranges = 4;
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  std::vector<ByteRange> ranges(5, ByteRange{0, 1});
  absl::StatusOr<PrefetchCounts> refused = (*session)->Prefetch(ranges);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("at most 4"), std::string::npos) << refused.status();
  ranges.pop_back();
  absl::StatusOr<PrefetchCounts> counts = (*session)->Prefetch(ranges);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->chunks_requested, 1u);
}

TEST_F(SnapshotSessionTest, PrefetchMergesAndClipsRangesAndWalksAtMostItsCap) {
  constexpr size_t kEntries = 64;
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk,
                               PseudoRandomBytes(kEntries * kChunk, 5), kChunk)
                  .ok());
  options_.max_prefetch_chunks = 8;
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  // Unsorted, overlapping, one crossing a chunk boundary, two running far past the end (one
  // whose end overflows 64 bits). Their union is entries 0-1, 5 and 10-63: 57 entries.
  const std::vector<ByteRange> ranges = {{10 * kChunk, uint64_t{1} << 63},
                                         {5 * kChunk + 7, 10},
                                         {kChunk - 1, 2},
                                         {12 * kChunk, UINT64_MAX},
                                         {0, 1},
                                         {5 * kChunk, kChunk}};
  absl::StatusOr<PrefetchCounts> counts = (*session)->Prefetch(ranges);
  ASSERT_TRUE(counts.ok()) << counts.status();
  // The first 8 entries in archive order are walked (0, 1, 5, 10-14); the other 49 are
  // reported, not walked.
  EXPECT_EQ(counts->chunks_requested, 8u);
  EXPECT_EQ(counts->chunks_already_cached, 0u);
  EXPECT_EQ(counts->chunks_dropped, 49u);
  ASSERT_TRUE(WaitFor([&] { return (*session)->Stats().cached_bytes == 8 * kChunk; }));
  for (size_t entry : {0, 1, 5, 10, 14}) {
    EXPECT_TRUE(cache_->Contains((*session)->RequestFor(entry).cache_key)) << entry;
  }
  for (size_t entry : {2, 6, 15, 63}) {
    EXPECT_FALSE(cache_->Contains((*session)->RequestFor(entry).cache_key)) << entry;
  }

  // Again: the walked entries are cached now, and the cap still bounds the walk.
  counts = (*session)->Prefetch(ranges);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->chunks_already_cached, 8u);
  EXPECT_EQ(counts->chunks_requested, 0u);
  EXPECT_EQ(counts->chunks_dropped, 49u);
}

TEST_F(SnapshotSessionTest, PrefetchStopsWalkingWhenThePrefetchQueueIsFull) {
  ScratchDir small_dir;
  ChunkCacheOptions small = SmallCacheOptions(small_dir.path(), 16 << 20);
  small.max_concurrent_fetches = 1;
  small.max_queued_prefetches = 2;
  std::unique_ptr<ChunkCache> cache = OpenCache(small);
  ASSERT_NE(cache, nullptr);
  constexpr size_t kEntries = 64;
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk,
                               PseudoRandomBytes(kEntries * kChunk, 6), kChunk)
                  .ok());
  auto session = SnapshotSession::Open(cache.get(), Store(), TestSnapshot(1000), kDisk, options_);
  ASSERT_TRUE(session.ok()) << session.status();
  faulty_->HoldCalls();  // the one fetch worker hangs on its first chunk
  absl::StatusOr<PrefetchCounts> counts =
      (*session)->Prefetch(std::vector<ByteRange>{{0, kEntries * kChunk}});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_GE(counts->chunks_requested, 2u);
  EXPECT_LE(counts->chunks_requested, 3u);  // two queued, one perhaps taken by the worker
  EXPECT_EQ(counts->chunks_requested + counts->chunks_dropped, kEntries);
  // The walk stopped at the first chunk the queue refused instead of offering it the rest.
  EXPECT_EQ(cache->Stats().prefetches_dropped, 1u);
  faulty_->ReleaseCalls();
  session->reset();
}

TEST_F(SnapshotSessionTest, StatsDescribeTheArchive) {
  std::string image = PseudoRandomBytes(5 * kChunk + 77, 4);
  image.replace(2 * kChunk, kChunk, image.substr(0, kChunk));  // chunk 2 repeats chunk 0
  absl::StatusOr<BuiltSnapshot> built =
      AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk);
  ASSERT_TRUE(built.ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  SnapshotStats stats = (*session)->Stats();
  EXPECT_EQ(stats.size, image.size());
  EXPECT_EQ(stats.chunk_size, kChunk);
  EXPECT_EQ(stats.chunk_count, 6u);
  EXPECT_EQ(stats.distinct_chunks, 5u);
  EXPECT_EQ(stats.crypt_mode, "none");
  EXPECT_EQ(stats.cached_bytes, 0u);
  EXPECT_EQ(stats.index_csum, ChunkIndex::Parse(built->index_bytes)->index_csum().Hex());
  EXPECT_EQ(stats.index_csum.size(), 64u);
  EXPECT_EQ(cache_->Stats().sessions_open, 1u);
  session->reset();
  EXPECT_EQ(cache_->Stats().sessions_open, 0u);
}

TEST_F(SnapshotSessionTest, StatsCountMoreDistinctChunksThanOneLookupBatch) {
  // 4200 distinct 1 KiB chunks (more than the 4096 keys looked up at a time), then 100
  // repeats of them.
  constexpr uint64_t kSmallChunk = 1024;
  std::string image = PseudoRandomBytes(4200 * kSmallChunk, 8);
  image += image.substr(0, 100 * kSmallChunk);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kSmallChunk).ok());
  ScratchDir big_dir;
  std::unique_ptr<ChunkCache> cache = OpenCache(SmallCacheOptions(big_dir.path(), 64 << 20));
  ASSERT_NE(cache, nullptr);
  auto session = SnapshotSession::Open(cache.get(), Store(), TestSnapshot(1000), kDisk, options_);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Stats().distinct_chunks, 4200u);
  EXPECT_EQ((*session)->Stats().chunk_count, 4300u);
  EXPECT_EQ((*session)->Stats().cached_bytes, 0u);
  for (uint64_t offset = 0; offset < image.size(); offset += 64 * kSmallChunk) {
    // In pieces: one read of every chunk would overflow this reader's share of the demand
    // fetch queue (half of its 256 slots).
    absl::StatusOr<RangeRead> read = (*session)->Read(offset, 64 * kSmallChunk, Soon());
    ASSERT_TRUE(read.ok()) << offset << ": " << read.status();
  }
  EXPECT_EQ((*session)->Stats().cached_bytes, 4200 * kSmallChunk);
  session->reset();
}

TEST_F(SnapshotSessionTest, CancelledAsyncReadNeverCallsBackAndItsChunksAreStillCached) {
  const std::string image = PseudoRandomBytes(3 * kChunk, 5);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk).ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  faulty_->HoldCalls();
  std::atomic<int> callbacks{0};
  RangeReadTicket ticket =
      (*session)->ReadAsync(0, 3 * kChunk, [&](absl::StatusOr<RangeRead>) { callbacks++; });
  ASSERT_FALSE(ticket.ready());
  ASSERT_TRUE(faulty_->WaitForHeldCalls(3, absl::Seconds(10)));
  EXPECT_TRUE(ticket.Cancel());
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return (*session)->Stats().cached_bytes == 3 * kChunk; }));
  EXPECT_EQ(callbacks.load(), 0);
  EXPECT_EQ(cache_->Stats().pinned_bytes, 0u);
}

// Once a fetch completes it hands the chunk to its waiters one after the other, and none of
// them can be detached any more. A read cancelled while an earlier waiter of its chunk is still
// in its callback must release the pin its own lookup then delivers, not keep it forever.
TEST_F(SnapshotSessionTest, ReadCancelledWhileItsFetchIsHandedOverLeavesNoPin) {
  const std::string image = PseudoRandomBytes(kChunk, 11);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk).ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  faulty_->HoldCalls();
  std::atomic<bool> first_in_callback{false};
  std::atomic<bool> first_may_return{false};
  ChunkLookup first =
      cache_->Lookup((*session)->RequestFor(0), [&](absl::StatusOr<ChunkHandle> chunk) {
        EXPECT_TRUE(chunk.ok()) << chunk.status();
        first_in_callback = true;
        while (!first_may_return) absl::SleepFor(absl::Milliseconds(1));
      });
  ASSERT_FALSE(first.ready());
  std::atomic<int> read_callbacks{0};
  RangeReadTicket read =
      (*session)->ReadAsync(0, kChunk, [&](absl::StatusOr<RangeRead>) { read_callbacks++; });
  ASSERT_FALSE(read.ready());
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return first_in_callback.load(); }));
  EXPECT_TRUE(read.Cancel());  // the read's callback will not run...
  first_may_return = true;     // ...but its lookup's callback still does, with a pinned chunk
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running == 0; }));
  EXPECT_TRUE(WaitFor([&] { return cache_->Stats().pinned_bytes == 0; }, absl::Seconds(2)));
  EXPECT_EQ(read_callbacks.load(), 0);
  EXPECT_EQ(cache_->Stats().pinned_bytes, 0u);
}

TEST_F(SnapshotSessionTest, ReadWithACorruptChunkIsDataLossAndReleasesItsPins) {
  const std::string image = PseudoRandomBytes(4 * kChunk, 6);
  absl::StatusOr<BuiltSnapshot> built =
      AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk);
  ASSERT_TRUE(built.ok());
  faulty_->CorruptChunk(built->digests[2]);
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  absl::StatusOr<RangeRead> read = (*session)->Read(0, image.size(), Soon());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().fetches_running == 0; }));
  EXPECT_EQ(cache_->Stats().pinned_bytes, 0u);
  faulty_->ClearChunkCorruption(built->digests[2]);
  EXPECT_EQ((*session)->Read(0, image.size(), Soon())->CopyBytes(), image);
}

// Archive X caches chunk D (64 KiB); archive Y's index names D for 4 chunks' worth of bytes.
// Y's reads are DATA_LOSS naming Y and D whether D is cold or cached (a hit must check the
// length as a miss does), including reads past D's real end, and leave no pin behind.
TEST_F(SnapshotSessionTest, ChunkWhoseLengthIsNotTheIndexRangeIsDataLossOnHitsToo) {
  const std::string chunk = PseudoRandomBytes(kChunk, 12);
  absl::StatusOr<BuiltSnapshot> x =
      AddDynamicSnapshot(*memory_, TestSnapshot(1000), "x.pxar.didx", {chunk});
  ASSERT_TRUE(x.ok()) << x.status();
  const ChunkDigest digest = x->digests[0];
  ASSERT_TRUE(AddDynamicIndex(*memory_, TestSnapshot(2000), "y.pxar.didx",
                              {DynamicEntry{4 * kChunk, digest}})
                  .ok());
  auto session_x = OpenSession(TestSnapshot(1000), "x.pxar.didx");
  auto session_y = OpenSession(TestSnapshot(2000), "y.pxar.didx");
  ASSERT_TRUE(session_x.ok()) << session_x.status();
  ASSERT_TRUE(session_y.ok()) << session_y.status();

  auto expect_data_loss = [&](uint64_t offset, const char* when) {
    absl::StatusOr<RangeRead> read = (*session_y)->Read(offset, kChunk, Soon());
    ASSERT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << when << ": " << read.status();
    EXPECT_NE(read.status().message().find("y.pxar.didx"), absl::string_view::npos) << when;
    EXPECT_NE(read.status().message().find(digest.ShortHex()), absl::string_view::npos) << when;
  };
  expect_data_loss(0, "cold");
  ASSERT_EQ((*session_x)->Read(0, kChunk, Soon())->CopyBytes(), chunk);  // now D is cached
  expect_data_loss(0, "hit");
  expect_data_loss(2 * kChunk, "hit past the chunk's end");
  // The fetch worker drops its own reference to D just after the first read of X returned.
  EXPECT_TRUE(WaitFor([&] { return cache_->Stats().pinned_bytes == 0; }));
  EXPECT_EQ((*session_x)->Read(0, kChunk, Soon())->CopyBytes(), chunk);  // X still reads D
}

TEST_F(SnapshotSessionTest, ReadDeadlineExpiresWhileTheFetchContinues) {
  const std::string image = PseudoRandomBytes(kChunk, 8);
  ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk, image, kChunk).ok());
  auto session = OpenSession(TestSnapshot(1000));
  ASSERT_TRUE(session.ok());
  faulty_->HoldCalls();
  absl::StatusOr<RangeRead> late = (*session)->Read(0, 10, absl::Now() + absl::Milliseconds(30));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  faulty_->ReleaseCalls();
  ASSERT_TRUE(WaitFor([&] { return (*session)->Stats().cached_bytes == kChunk; }));
}

}  // namespace
}  // namespace chunkcache
