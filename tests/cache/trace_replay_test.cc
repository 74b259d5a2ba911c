// Chunk conversion and replay on the shared trace, checked against traces/README.md and
// traces/REFERENCE.md (libCacheSim's numbers, rounded to 4 digits).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/eviction_policy.h"
#include "cache/trace/chunk_accesses.h"
#include "cache/trace/live_restore_mix.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/trace_file.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

constexpr uint64_t k4MiB = 4 << 20;
constexpr uint64_t k1MiB = 1 << 20;

const std::vector<BlockRequest>& TraceRequests() {
  static const std::vector<BlockRequest>* requests = [] {
    const std::string path = (testing::SharedDir() / "traces" / "cloudPhysicsIO.vscsi").string();
    absl::StatusOr<std::vector<BlockRequest>> read = ReadBlockTraceFile(path, TraceFormat::kVscsi);
    EXPECT_TRUE(read.ok()) << read.status();
    return new std::vector<BlockRequest>(read.ok() ? std::move(*read)
                                                   : std::vector<BlockRequest>{});
  }();
  return *requests;
}

ChunkAccessTrace Chunks(uint64_t chunk_size, bool reads_only) {
  absl::StatusOr<ChunkAccessTrace> trace =
      ToChunkAccesses(TraceRequests(), {.chunk_size = chunk_size, .reads_only = reads_only});
  EXPECT_TRUE(trace.ok()) << trace.status();
  return trace.ok() ? std::move(*trace) : ChunkAccessTrace{};
}

double MissRatio(const ChunkAccessTrace& trace, std::string_view policy, uint64_t chunks) {
  absl::StatusOr<ReplayResult> result = PolicyOnlyReplay(GuestAccesses(trace), policy, chunks);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->guest.miss_ratio() : 1.0;
}

// `reference` is printed with 4 decimals.
void ExpectMatchesReference(double measured, double reference) {
  EXPECT_LE(std::abs(measured - reference), 0.00005 + 1e-12)
      << "measured " << measured << ", reference " << reference;
}

struct ChunkView {
  uint64_t chunk_size;
  bool reads_only;
  uint64_t requests, spanning, accesses, unique;
};

TEST(ChunkAccessesTest, MatchesTheChunkLevelViewOfTheTraceReadme) {
  for (const ChunkView& view : {ChunkView{k4MiB, false, 113872, 976, 114848, 1312},
                                ChunkView{k1MiB, false, 113872, 3940, 117812, 2628},
                                ChunkView{k4MiB, true, 46974, 416, 47390, 1005},
                                ChunkView{k1MiB, true, 46974, 1692, 48666, 1989}}) {
    SCOPED_TRACE(::testing::Message() << view.chunk_size << (view.reads_only ? " reads" : " all"));
    const ChunkAccessTrace trace = Chunks(view.chunk_size, view.reads_only);
    EXPECT_EQ(trace.requests, view.requests);
    EXPECT_EQ(trace.spanning_requests, view.spanning);
    EXPECT_EQ(trace.accesses.size(), view.accesses);
    EXPECT_EQ(trace.unique_chunks, view.unique);
  }
}

TEST(ChunkAccessesTest, RequestTouchesEveryChunkItOverlapsInOrder) {
  std::vector<BlockRequest> requests = {
      {.offset = 4094, .length = 4, .op = BlockOp::kRead},
      {.offset = 0, .length = 0, .op = BlockOp::kRead},        // dropped
      {.offset = 8192, .length = 512, .op = BlockOp::kOther},  // dropped
      {.offset = 10000, .length = 1, .op = BlockOp::kWrite},
  };
  absl::StatusOr<ChunkAccessTrace> trace = ToChunkAccesses(requests, {.chunk_size = 4096});
  ASSERT_TRUE(trace.ok());
  ASSERT_EQ(trace->accesses.size(), 3u);
  EXPECT_EQ(trace->accesses[0].chunk, 0u);
  EXPECT_EQ(trace->accesses[1].chunk, 1u);
  EXPECT_EQ(trace->accesses[1].request, 0u);
  EXPECT_EQ(trace->accesses[2].chunk, 2u);
  EXPECT_EQ(trace->accesses[2].request, 1u);
  EXPECT_EQ(trace->max_chunk, 2u);
  absl::StatusOr<ChunkAccessTrace> reads =
      ToChunkAccesses(requests, {.chunk_size = 4096, .reads_only = true});
  ASSERT_TRUE(reads.ok());
  EXPECT_EQ(reads->accesses.size(), 2u);
  EXPECT_EQ(reads->max_chunk, 2u);  // the disk extent counts writes too
  EXPECT_FALSE(ToChunkAccesses(requests, {.chunk_size = 0}).ok());
  std::vector<BlockRequest> overflowing = {
      {.offset = ~0ull - 10, .length = 100, .op = BlockOp::kRead}};
  EXPECT_FALSE(ToChunkAccesses(overflowing, {.chunk_size = 4096}).ok());
}

TEST(PolicyReplayTest, LruMatchesTheReferenceTables) {
  const ChunkAccessTrace all_4m = Chunks(k4MiB, false);
  ExpectMatchesReference(MissRatio(all_4m, "lru", 16), 0.1515);
  ExpectMatchesReference(MissRatio(all_4m, "lru", 80), 0.0459);
  ExpectMatchesReference(MissRatio(all_4m, "lru", 131), 0.0384);
  ExpectMatchesReference(MissRatio(Chunks(k1MiB, false), "lru", 32), 0.2004);
  ExpectMatchesReference(MissRatio(Chunks(k4MiB, true), "lru", 64), 0.0554);
  ExpectMatchesReference(MissRatio(Chunks(k1MiB, true), "lru", 19), 0.2896);
}

TEST(PolicyReplayTest, OtherPoliciesMatchTheReferenceTables) {
  const ChunkAccessTrace all_4m = Chunks(k4MiB, false);
  ExpectMatchesReference(MissRatio(all_4m, "s3fifo", 16), 0.1456);
  ExpectMatchesReference(MissRatio(all_4m, "sieve", 32), 0.0787);
  ExpectMatchesReference(MissRatio(all_4m, "arc", 64), 0.0481);
  ExpectMatchesReference(MissRatio(all_4m, "2q", 256), 0.0304);
  const ChunkAccessTrace reads_1m = Chunks(k1MiB, true);
  ExpectMatchesReference(MissRatio(reads_1m, "arc", 32), 0.2472);
  ExpectMatchesReference(MissRatio(reads_1m, "s3fifo", 80), 0.1543);
}

TEST(PolicyReplayTest, OptMatchesTheReferenceBeladyRows) {
  const ChunkAccessTrace all_4m = Chunks(k4MiB, false);
  ExpectMatchesReference(MissRatio(all_4m, "opt", 16), 0.0931);
  ExpectMatchesReference(MissRatio(all_4m, "opt", 80), 0.0316);
  ExpectMatchesReference(MissRatio(all_4m, "opt", 256), 0.0207);
  ExpectMatchesReference(MissRatio(Chunks(k1MiB, false), "opt", 64), 0.0937);
  ExpectMatchesReference(MissRatio(Chunks(k4MiB, true), "opt", 10), 0.1454);
  ExpectMatchesReference(MissRatio(Chunks(k1MiB, true), "opt", 198), 0.0756);
}

TEST(PolicyReplayTest, DefaultPolicyBeatsLruAndTheBestReferenceWhereRequired) {
  const ChunkAccessTrace all_4m = Chunks(k4MiB, false);
  const std::string_view policy = DefaultEvictionPolicyName();
  for (uint64_t chunks : {16, 32, 64, 80, 128, 256}) {
    EXPECT_LE(MissRatio(all_4m, policy, chunks), MissRatio(all_4m, "lru", chunks)) << chunks;
  }
  EXPECT_LE(MissRatio(all_4m, policy, 32), 0.0787);
  EXPECT_LE(MissRatio(all_4m, policy, 80), 0.0449);
}

TEST(PolicyReplayTest, ZeroCapacityMissesEverythingAndUnknownPolicyFails) {
  const ChunkAccessTrace reads = Chunks(k4MiB, true);
  EXPECT_EQ(MissRatio(reads, "lru", 0), 1.0);
  absl::StatusOr<ReplayResult> unknown = PolicyOnlyReplay(GuestAccesses(reads), "fifo", 8);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LiveRestoreMixTest, OneCopyChunkAfterEveryKGuestRequests) {
  ChunkAccessTrace guest;
  guest.requests = 5;
  guest.accesses = {{7, 0}, {8, 0}, {3, 1}, {9, 2}, {9, 3}, {1, 4}};
  std::vector<ReplayAccess> mix = LiveRestoreMix(guest, 2, /*last_chunk=*/3, false);
  std::vector<std::pair<uint64_t, AccessSource>> got;
  for (const ReplayAccess& access : mix) got.emplace_back(access.chunk, access.source);
  const AccessSource g = AccessSource::kGuest, c = AccessSource::kBackgroundCopy;
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, AccessSource>>{
                     {7, g}, {8, g}, {3, g}, {0, c}, {9, g}, {9, g}, {1, c}, {1, g}}));
  std::vector<ReplayAccess> finished = LiveRestoreMix(guest, 2, 3, /*finish_copy=*/true);
  ASSERT_EQ(finished.size(), 10u);
  EXPECT_EQ(finished.back().chunk, 3u);
  EXPECT_EQ(finished.back().source, AccessSource::kBackgroundCopy);
  EXPECT_EQ(LiveRestoreMix(guest, 0, 3, true).size(), guest.accesses.size());
}

// The background copy (as prefetches) barely moves the default policy's guest miss ratio;
// the same copy seen as ordinary reads hurts LRU much more.
TEST(LiveRestoreMixTest, CopyRaisesTheDefaultPolicysGuestMissesByLessThanTenPercent) {
  const ChunkAccessTrace reads = Chunks(k4MiB, true);
  const std::vector<ReplayAccess> mix = LiveRestoreMix(reads, 4, reads.max_chunk, false);
  const std::string_view policy = DefaultEvictionPolicyName();
  absl::StatusOr<ReplayResult> alone = PolicyOnlyReplay(GuestAccesses(reads), policy, 64);
  absl::StatusOr<ReplayResult> with_copy = PolicyOnlyReplay(mix, policy, 64);
  ASSERT_TRUE(alone.ok() && with_copy.ok());
  EXPECT_GT(with_copy->copy.accesses, 8000u);
  EXPECT_EQ(with_copy->guest.accesses, reads.accesses.size());
  EXPECT_LT(with_copy->guest.miss_ratio(), 1.10 * alone->guest.miss_ratio());

  absl::StatusOr<ReplayResult> lru_alone = PolicyOnlyReplay(GuestAccesses(reads), "lru", 64);
  absl::StatusOr<ReplayResult> lru_demand_copy =
      PolicyOnlyReplay(mix, "lru", 64, CopyAdmission::kDemand);
  ASSERT_TRUE(lru_alone.ok() && lru_demand_copy.ok());
  EXPECT_GT(lru_demand_copy->guest.miss_ratio(), 1.10 * lru_alone->guest.miss_ratio());
}

}  // namespace
}  // namespace chunkcache
