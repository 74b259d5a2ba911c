// LiveRestoreMix: the guest's chunk accesses interleaved with a background copy of the whole
// disk, as qemu's live-restore runs them: after every `guest_requests_per_copy_chunk` guest
// requests the copy reads the next chunk, from chunk 0 up to `last_chunk`. The copy stops
// when the guest trace ends (or continues alone past it if `finish_copy`).
//
//   std::vector<ReplayAccess> mix = LiveRestoreMix(reads, /*k=*/4, reads.max_chunk, false);
#ifndef CHUNKCACHE_CACHE_TRACE_LIVE_RESTORE_MIX_H_
#define CHUNKCACHE_CACHE_TRACE_LIVE_RESTORE_MIX_H_

#include <cstdint>
#include <vector>

#include "cache/trace/chunk_accesses.h"
#include "cache/trace/replay_access.h"

namespace chunkcache {

// `guest_requests_per_copy_chunk` == 0 means no copy.
std::vector<ReplayAccess> LiveRestoreMix(const ChunkAccessTrace& guest,
                                         uint64_t guest_requests_per_copy_chunk,
                                         uint64_t last_chunk, bool finish_copy);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_LIVE_RESTORE_MIX_H_
