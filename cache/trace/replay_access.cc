#include "cache/trace/replay_access.h"

namespace chunkcache {

void ReplayResult::Count(const ReplayAccess& access, bool miss) {
  ReplayCounts& counts = access.source == AccessSource::kGuest ? guest : copy;
  ++counts.accesses;
  counts.misses += miss ? 1 : 0;
  if (readers.size() <= access.reader) readers.resize(access.reader + 1);
  ++readers[access.reader].accesses;
  readers[access.reader].misses += miss ? 1 : 0;
}

std::vector<ReplayAccess> GuestAccesses(const ChunkAccessTrace& trace) {
  std::vector<ReplayAccess> accesses;
  accesses.reserve(trace.accesses.size());
  for (const ChunkAccess& access : trace.accesses) {
    accesses.push_back({access.chunk, AccessSource::kGuest});
  }
  return accesses;
}

}  // namespace chunkcache
