// OptimalReplay: Belady's OPT on the same count-based cache as PolicyOnlyReplay, the floor of
// every table the simulator prints.
//
//   absl::StatusOr<ReplayResult> floor = OptimalReplay(workload.accesses, 64);
//
// Same semantics as the other policies' replay: every access is a lookup of its chunk; a miss
// (guest or copy) fetches the chunk and always inserts it (no bypass), evicting, while the
// cache holds `capacity_chunks`, the resident chunk whose next access (by any reader, guest or
// copy) is furthest in the future, a chunk never accessed again first. The access sequence
// does not depend on what is cached, so the future is known exactly; with equal-size chunks
// (the count-based cache) this is the minimum number of misses of any eviction policy that
// admits every miss (Belady 1966; checked by brute force in tests/cache). Prefetch-vs-demand
// admission changes nothing for OPT: it knows every next use anyway. A capacity of 0 caches
// nothing. O(accesses x log capacity).
#ifndef CHUNKCACHE_CACHE_TRACE_OPTIMAL_REPLAY_H_
#define CHUNKCACHE_CACHE_TRACE_OPTIMAL_REPLAY_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/trace/replay_access.h"

namespace chunkcache {

// The policy name the simulator accepts for OptimalReplay.
inline constexpr std::string_view kOptimalPolicyName = "opt";

absl::StatusOr<ReplayResult> OptimalReplay(absl::Span<const ReplayAccess> accesses,
                                           uint64_t capacity_chunks);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_OPTIMAL_REPLAY_H_
