// The trace replay through the real ChunkCache gives the policy-only model's numbers.
#include <string>
#include <vector>

#include "cache/eviction_policy.h"
#include "cache/trace/chunk_accesses.h"
#include "cache/trace/chunk_cache_replay.h"
#include "cache/trace/live_restore_mix.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/trace_file.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

ChunkAccessTrace ReadsOf4MiBChunks() {
  const std::string path = (testing::SharedDir() / "traces" / "cloudPhysicsIO.vscsi").string();
  absl::StatusOr<std::vector<BlockRequest>> requests =
      ReadBlockTraceFile(path, TraceFormat::kVscsi);
  EXPECT_TRUE(requests.ok()) << requests.status();
  if (!requests.ok()) return {};
  absl::StatusOr<ChunkAccessTrace> trace =
      ToChunkAccesses(*requests, {.chunk_size = 4 << 20, .reads_only = true});
  EXPECT_TRUE(trace.ok()) << trace.status();
  return trace.ok() ? std::move(*trace) : ChunkAccessTrace{};
}

void ExpectSameCounts(const ReplayResult& through_cache, const ReplayResult& model) {
  EXPECT_EQ(through_cache.guest.accesses, model.guest.accesses);
  EXPECT_EQ(through_cache.guest.misses, model.guest.misses);
  EXPECT_EQ(through_cache.copy.accesses, model.copy.accesses);
  EXPECT_EQ(through_cache.copy.misses, model.copy.misses);
}

TEST(ChunkCacheReplayTest, LruThroughTheCacheMatchesThePolicyOnlyReplay) {
  const ChunkAccessTrace trace = ReadsOf4MiBChunks();
  const std::vector<ReplayAccess> accesses = GuestAccesses(trace);
  for (uint64_t chunks : {16, 64}) {
    SCOPED_TRACE(chunks);
    testing::ScratchDir dir;
    absl::StatusOr<ReplayResult> through_cache = ChunkCacheReplay(
        accesses, {.policy = "lru", .capacity_chunks = chunks, .cache_dir = dir.path()});
    absl::StatusOr<ReplayResult> model = PolicyOnlyReplay(accesses, "lru", chunks);
    ASSERT_TRUE(through_cache.ok()) << through_cache.status();
    ASSERT_TRUE(model.ok()) << model.status();
    ExpectSameCounts(*through_cache, *model);
  }
}

TEST(ChunkCacheReplayTest, DefaultPolicyAndLiveRestoreCopyMatchTheModel) {
  const ChunkAccessTrace trace = ReadsOf4MiBChunks();
  const std::vector<ReplayAccess> mix = LiveRestoreMix(trace, 16, trace.max_chunk, false);
  testing::ScratchDir dir;
  absl::StatusOr<ReplayResult> through_cache =
      ChunkCacheReplay(mix, {.capacity_chunks = 64, .cache_dir = dir.path()});
  absl::StatusOr<ReplayResult> model = PolicyOnlyReplay(mix, DefaultEvictionPolicyName(), 64);
  ASSERT_TRUE(through_cache.ok()) << through_cache.status();
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectSameCounts(*through_cache, *model);
}

TEST(ChunkCacheReplayTest, RejectsPayloadsThatAreNotWholePages) {
  testing::ScratchDir dir;
  EXPECT_EQ(ChunkCacheReplay({}, {.cache_dir = dir.path(), .payload_bytes = 1000}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chunkcache
