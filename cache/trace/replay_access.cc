#include "cache/trace/replay_access.h"

namespace chunkcache {

std::vector<ReplayAccess> GuestAccesses(const ChunkAccessTrace& trace) {
  std::vector<ReplayAccess> accesses;
  accesses.reserve(trace.accesses.size());
  for (const ChunkAccess& access : trace.accesses) {
    accesses.push_back({access.chunk, AccessSource::kGuest});
  }
  return accesses;
}

}  // namespace chunkcache
