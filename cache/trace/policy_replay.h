// PolicyOnlyReplay: replays chunk accesses through an eviction policy driven by an exact,
// count-based cache of `capacity_chunks` equal chunks (no bytes, no ChunkCache): the
// libCacheSim model of shared/traces/REFERENCE.md, used to compare policies quickly.
//
//   absl::StatusOr<ReplayResult> result = PolicyOnlyReplay(GuestAccesses(trace), "lru", 64);
//   double miss_ratio = result->guest.miss_ratio();
//
// A guest miss calls OnMiss, evicts while the cache is full, then inserts on demand; a guest
// hit calls OnAccess. Background copy accesses follow `copy_admission`. A capacity of 0
// caches nothing. The name kOptimalPolicyName ("opt") replays with OptimalReplay, the floor
// (cache/trace/optimal_replay.h). INVALID_ARGUMENT for an unknown policy name.
//
// The ReplayWorkload form also feeds the workload's stream events to policies that take
// StreamKnowledge (the index-aware policy), each before the access it precedes.
#ifndef CHUNKCACHE_CACHE_TRACE_POLICY_REPLAY_H_
#define CHUNKCACHE_CACHE_TRACE_POLICY_REPLAY_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/trace/replay_access.h"
#include "cache/trace/replay_workload.h"

namespace chunkcache {

absl::StatusOr<ReplayResult> PolicyOnlyReplay(
    absl::Span<const ReplayAccess> accesses, std::string_view policy_name, uint64_t capacity_chunks,
    CopyAdmission copy_admission = CopyAdmission::kPrefetch);

absl::StatusOr<ReplayResult> PolicyOnlyReplay(
    const ReplayWorkload& workload, std::string_view policy_name, uint64_t capacity_chunks,
    CopyAdmission copy_admission = CopyAdmission::kPrefetch);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_POLICY_REPLAY_H_
