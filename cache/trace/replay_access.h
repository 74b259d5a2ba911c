// The input and output of a cache replay: a sequence of chunk accesses, each made by the
// guest (the trace) or by a background copy job (live-restore) or another sequential stream
// (a restore), and the misses counted for each source and each reader.
#ifndef CHUNKCACHE_CACHE_TRACE_REPLAY_ACCESS_H_
#define CHUNKCACHE_CACHE_TRACE_REPLAY_ACCESS_H_

#include <cstdint>
#include <vector>

#include "cache/trace/chunk_accesses.h"

namespace chunkcache {

enum class AccessSource : uint8_t { kGuest, kBackgroundCopy };

struct ReplayAccess {
  uint64_t chunk = 0;
  AccessSource source = AccessSource::kGuest;
  // Which reader made it, for per-reader counts (e.g. the first and second of two restores).
  uint32_t reader = 0;
};

// How the cache sees the background copy's reads.
enum class CopyAdmission {
  // As readahead: a missed chunk is inserted as InsertKind::kPrefetch and a hit does not
  // count as a use (the copy reads every chunk once, in order: a scan).
  kPrefetch,
  // As ordinary reads (a cache that cannot tell the copy from the guest).
  kDemand,
};

struct ReplayCounts {
  uint64_t accesses = 0;
  uint64_t misses = 0;
  double miss_ratio() const {
    return accesses == 0 ? 0.0 : static_cast<double>(misses) / static_cast<double>(accesses);
  }
};

struct ReplayResult {
  ReplayCounts guest;
  ReplayCounts copy;
  std::vector<ReplayCounts> readers;  // indexed by ReplayAccess::reader

  uint64_t misses() const { return guest.misses + copy.misses; }
  // Adds one access (a miss or not) to the source's and the reader's counts.
  void Count(const ReplayAccess& access, bool miss);
};

// Every access of `trace`, made by the guest.
std::vector<ReplayAccess> GuestAccesses(const ChunkAccessTrace& trace);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_REPLAY_ACCESS_H_
