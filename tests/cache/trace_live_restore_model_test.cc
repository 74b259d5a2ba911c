// The qemu live-restore model on a small hand-checked trace, the two-restores workload, and
// Belady's OPT against a brute-force optimum on tiny traces.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cache/eviction_policy.h"
#include "cache/trace/concurrent_restores.h"
#include "cache/trace/optimal_replay.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/qemu_live_restore.h"
#include "gtest/gtest.h"

namespace chunkcache {
namespace {

constexpr uint64_t kKiB = 1024;
const AccessSource kG = AccessSource::kGuest;
const AccessSource kC = AccessSource::kBackgroundCopy;

std::vector<std::pair<uint64_t, AccessSource>> Accesses(const ReplayWorkload& workload) {
  std::vector<std::pair<uint64_t, AccessSource>> got;
  for (const ReplayAccess& access : workload.accesses)
    got.emplace_back(access.chunk, access.source);
  return got;
}

// 1 KiB clusters, 4 KiB chunks (4 clusters), 2 KiB copy steps, one step per guest request.
QemuLiveRestoreOptions SmallDisk() {
  return {.chunk_size = 4 * kKiB,
          .cluster_size = kKiB,
          .copy_step = 2 * kKiB,
          .copy_steps_per_request = 1};
}

// Worked by hand, cluster by cluster (clusters 0-15, chunks 0-3):
//   r0 read  [5K,6K)       cluster 5 from the backup: guest access to chunk 1;
//                          copy step [0K,2K): clusters 0,1: copy access to chunk 0
//   r1 read  [5K,6K)       cluster 5 is copied: the target serves it, no access;
//                          copy step [2K,4K): clusters 2,3: chunk 0 again
//   r2 read  [4K,8K)       clusters 4,6,7 (5 is copied): chunk 1, now fully copied, so the
//                          stream will skip it; copy: [4K,8K) is copied, skipped for free,
//                          step [8K,10K): chunk 2
//   r3 write [12.5K,13K)   part of cluster 12, not copied: read from the backup first
//                          (chunk 3); copy step [10K,12K): chunk 2
//   r4 write [13K,14K)     cluster 13 whole: written without a backup read; copy: [12K,14K)
//                          is copied, step [14K,16K): chunk 3
TEST(QemuLiveRestoreTest, HandCheckedTrace) {
  const std::vector<BlockRequest> requests = {
      {.offset = 5 * kKiB, .length = kKiB, .op = BlockOp::kRead},
      {.offset = 5 * kKiB, .length = kKiB, .op = BlockOp::kRead},
      {.offset = 4 * kKiB, .length = 4 * kKiB, .op = BlockOp::kRead},
      {.offset = 12 * kKiB + 512, .length = 512, .op = BlockOp::kWrite},
      {.offset = 13 * kKiB, .length = kKiB, .op = BlockOp::kWrite},
      {.offset = 0, .length = 0, .op = BlockOp::kRead},     // dropped
      {.offset = 0, .length = 512, .op = BlockOp::kOther},  // dropped
  };
  absl::StatusOr<QemuLiveRestore> model = ModelQemuLiveRestore(requests, SmallDisk());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(Accesses(model->workload),
            (std::vector<std::pair<uint64_t, AccessSource>>{
                {1, kG}, {0, kC}, {0, kC}, {1, kG}, {2, kC}, {3, kG}, {2, kC}, {3, kC}}));
  EXPECT_EQ(model->disk_chunks, 4u);
  EXPECT_EQ(model->guest_requests, 5u);
  EXPECT_EQ(model->clusters_copied_by_guest, 5u);    // 5; 4, 6, 7; 12
  EXPECT_EQ(model->clusters_copied_by_stream, 10u);  // 0-3, 8-11, 14, 15 (13 was written)
  EXPECT_EQ(model->copy_steps, 5u);

  // The stream as the policy sees it: opened at 0, chunk 1 skipped right after the guest
  // finished it, the cursor at the chunk of the next byte to copy, closed at the end.
  const std::vector<StreamEvent>& events = model->workload.events;
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().kind, StreamEvent::Kind::kOpen);
  EXPECT_EQ(events.front().order->size(), 4u);
  EXPECT_DOUBLE_EQ(events.front().speed, 0.5);  // 2 KiB steps of 4 KiB chunks
  EXPECT_EQ(events.back().kind, StreamEvent::Kind::kClose);
  std::vector<std::pair<uint64_t, uint64_t>> moves, skips;  // (before_access, position)
  for (const StreamEvent& event : events) {
    if (event.kind == StreamEvent::Kind::kMove)
      moves.emplace_back(event.before_access, event.position);
    if (event.kind == StreamEvent::Kind::kSkip)
      skips.emplace_back(event.before_access, event.position);
  }
  EXPECT_EQ(skips, (std::vector<std::pair<uint64_t, uint64_t>>{{4, 1}}));
  EXPECT_EQ(moves, (std::vector<std::pair<uint64_t, uint64_t>>{{3, 1}, {4, 2}, {7, 3}, {8, 4}}));

  // Every chunk is fetched once if the cache holds 2 (OPT), and no policy does better.
  absl::StatusOr<ReplayResult> opt = PolicyOnlyReplay(model->workload, "opt", 2);
  ASSERT_TRUE(opt.ok());
  EXPECT_EQ(opt->misses(), 4u);
  EXPECT_EQ(opt->guest.misses, 2u);
  for (std::string_view policy : {"lru", "index"}) {
    absl::StatusOr<ReplayResult> result = PolicyOnlyReplay(model->workload, policy, 2);
    ASSERT_TRUE(result.ok());
    EXPECT_GE(result->misses(), opt->misses()) << policy;
  }
}

TEST(QemuLiveRestoreTest, ReadsOnlyAndAFastCopy) {
  const std::vector<BlockRequest> requests = {
      {.offset = 13 * kKiB, .length = kKiB, .op = BlockOp::kWrite},
      {.offset = 0, .length = kKiB, .op = BlockOp::kRead},
      {.offset = 9 * kKiB, .length = kKiB, .op = BlockOp::kRead}};
  QemuLiveRestoreOptions options = SmallDisk();
  options.reads_only = true;
  options.copy_steps_per_request = 2;  // 4 KiB of copy per guest request
  absl::StatusOr<QemuLiveRestore> model = ModelQemuLiveRestore(requests, options);
  ASSERT_TRUE(model.ok());
  // The write is dropped but still sizes the disk (4 chunks). r0 reads cluster 0 (chunk 0),
  // the copy then does [0K,4K) (the rest of chunk 0, in two steps); r1 reads cluster 9
  // (chunk 2), the copy does [4K,8K) (chunk 1); after the trace it finishes [8K,16K).
  EXPECT_EQ(Accesses(model->workload), (std::vector<std::pair<uint64_t, AccessSource>>{{0, kG},
                                                                                       {0, kC},
                                                                                       {0, kC},
                                                                                       {2, kG},
                                                                                       {1, kC},
                                                                                       {1, kC},
                                                                                       {2, kC},
                                                                                       {2, kC},
                                                                                       {3, kC},
                                                                                       {3, kC}}));
  EXPECT_EQ(model->guest_requests, 2u);
  options.finish_copy = false;
  model = ModelQemuLiveRestore(requests, options);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->workload.accesses.size(), 6u);
}

TEST(QemuLiveRestoreTest, RejectsSizesThatDoNotFit) {
  const std::vector<BlockRequest> requests = {{.offset = 0, .length = 512, .op = BlockOp::kRead}};
  QemuLiveRestoreOptions options = SmallDisk();
  options.cluster_size = 3 * kKiB;
  EXPECT_EQ(ModelQemuLiveRestore(requests, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SmallDisk();
  options.copy_step = 0;
  EXPECT_FALSE(ModelQemuLiveRestore(requests, options).ok());
  options = SmallDisk();
  options.copy_steps_per_request = 0;
  EXPECT_FALSE(ModelQemuLiveRestore(requests, options).ok());
  const std::vector<BlockRequest> overflowing = {
      {.offset = ~uint64_t{0} - 100, .length = 512, .op = BlockOp::kRead}};
  EXPECT_FALSE(ModelQemuLiveRestore(overflowing, SmallDisk()).ok());
}

TEST(ConcurrentRestoresTest, SecondStartsAQuarterThroughAndBothReadEverything) {
  absl::StatusOr<ReplayWorkload> workload = TwoConcurrentRestores({.archive_chunks = 8});
  ASSERT_TRUE(workload.ok());
  std::vector<std::pair<uint64_t, uint32_t>> got;
  for (const ReplayAccess& access : workload->accesses)
    got.emplace_back(access.chunk, access.reader);
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint32_t>>{{0, 0},
                                                             {1, 0},
                                                             {0, 1},
                                                             {2, 0},
                                                             {1, 1},
                                                             {3, 0},
                                                             {2, 1},
                                                             {4, 0},
                                                             {3, 1},
                                                             {5, 0},
                                                             {4, 1},
                                                             {6, 0},
                                                             {5, 1},
                                                             {7, 0},
                                                             {6, 1},
                                                             {7, 1}}));
  EXPECT_FALSE(TwoConcurrentRestores({.archive_chunks = 0}).ok());
  EXPECT_FALSE(TwoConcurrentRestores({.second_start = 1.5}).ok());
  EXPECT_FALSE(TwoConcurrentRestores({.second_speed = 0}).ok());
}

// The minimum number of misses over every sequence of eviction choices (admit every miss).
uint64_t BruteForceMinMisses(const std::vector<ReplayAccess>& accesses, uint64_t capacity) {
  // memo[(i, resident bitmask)] over chunk ids < 8.
  absl::flat_hash_map<std::pair<size_t, uint32_t>, uint64_t> memo;
  auto solve = [&](auto&& self, size_t i, uint32_t resident) -> uint64_t {
    if (i == accesses.size()) return 0;
    if (auto it = memo.find({i, resident}); it != memo.end()) return it->second;
    const uint32_t bit = uint32_t{1} << accesses[i].chunk;
    uint64_t best;
    if (resident & bit) {
      best = self(self, i + 1, resident);
    } else if (capacity == 0) {
      best = 1 + self(self, i + 1, resident);
    } else if (static_cast<uint64_t>(__builtin_popcount(resident)) < capacity) {
      best = 1 + self(self, i + 1, resident | bit);
    } else {
      best = std::numeric_limits<uint64_t>::max();
      for (uint32_t victim = resident; victim != 0; victim &= victim - 1) {
        const uint32_t lowest = victim & -victim;
        best = std::min(best, 1 + self(self, i + 1, (resident & ~lowest) | bit));
      }
    }
    memo[{i, resident}] = best;
    return best;
  };
  return solve(solve, 0, 0);
}

TEST(OptimalReplayTest, MatchesABruteForceOptimumOnTinyTraces) {
  std::mt19937_64 random(14);
  for (int round = 0; round < 400; ++round) {
    const size_t length = 4 + random() % 13;
    const uint64_t chunks = 2 + random() % 6;
    std::vector<ReplayAccess> accesses;
    for (size_t i = 0; i < length; ++i) {
      accesses.push_back(
          {random() % chunks, random() % 3 == 0 ? kC : kG, static_cast<uint32_t>(random() % 2)});
    }
    for (uint64_t capacity = 0; capacity <= 4; ++capacity) {
      absl::StatusOr<ReplayResult> opt = OptimalReplay(accesses, capacity);
      ASSERT_TRUE(opt.ok());
      ASSERT_EQ(opt->misses(), BruteForceMinMisses(accesses, capacity))
          << "round " << round << " capacity " << capacity;
      ASSERT_EQ(opt->guest.accesses + opt->copy.accesses, accesses.size());
      ASSERT_EQ(opt->readers[0].misses + (opt->readers.size() > 1 ? opt->readers[1].misses : 0),
                opt->misses());
    }
  }
}

TEST(OptimalReplayTest, IsTheFloorOfEveryPolicy) {
  std::mt19937_64 random(3);
  std::vector<ReplayAccess> accesses;
  for (int i = 0; i < 3000; ++i) {
    accesses.push_back({(random() % 40) * (random() % 40) / 40, i % 5 == 0 ? kC : kG});
  }
  absl::StatusOr<ReplayResult> opt = PolicyOnlyReplay(accesses, kOptimalPolicyName, 8);
  ASSERT_TRUE(opt.ok());
  for (std::string_view policy : EvictionPolicyNames()) {
    absl::StatusOr<ReplayResult> result = PolicyOnlyReplay(accesses, policy, 8);
    ASSERT_TRUE(result.ok());
    EXPECT_LE(opt->misses(), result->misses()) << policy;
  }
}

}  // namespace
}  // namespace chunkcache
