// ConcurrentRestores: two full restores of one archive through one cache, the second started
// while the first is under way: the workload for interval caching.
//
// The archive has `archive_chunks` distinct chunks (ids 0 .. n-1) read in index order. Time
// is counted in the first restore's reads: it reads one chunk per tick; the second starts once
// the first has read `second_start` of the archive (a fraction) and reads
// `second_speed` chunks per tick (a real number: 0.5 = every other tick) until it is done.
// Within a tick the first reads before the second. Both are sequential streams
// (AccessSource::kBackgroundCopy, admitted as readahead by the replay), reader 0 and reader 1,
// and both are reported as streams over the archive's order (StreamKnowledge): opened when
// they start, the cursor moved to the next position after every read, closed when they
// finish; the clock is the
// tick.
//
//   ReplayWorkload workload = TwoConcurrentRestores({.archive_chunks = 1000});
//   absl::StatusOr<ReplayResult> r = PolicyOnlyReplay(workload, "index", 500);
//   // r->readers[1].misses: chunks the second restore fetched upstream
#ifndef CHUNKCACHE_CACHE_TRACE_CONCURRENT_RESTORES_H_
#define CHUNKCACHE_CACHE_TRACE_CONCURRENT_RESTORES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "cache/trace/replay_workload.h"

namespace chunkcache {

struct ConcurrentRestoresOptions {
  uint64_t archive_chunks = 1000;
  double second_start = 0.25;  // in [0, 1]
  double second_speed = 1;     // > 0, relative to the first
};

// INVALID_ARGUMENT for an empty archive, a start outside [0, 1] or a speed <= 0.
absl::StatusOr<ReplayWorkload> TwoConcurrentRestores(const ConcurrentRestoresOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_CONCURRENT_RESTORES_H_
