#include "cache/trace/live_restore_mix.h"

namespace chunkcache {

std::vector<ReplayAccess> LiveRestoreMix(const ChunkAccessTrace& guest,
                                         uint64_t guest_requests_per_copy_chunk,
                                         uint64_t last_chunk, bool finish_copy) {
  std::vector<ReplayAccess> mix;
  mix.reserve(guest.accesses.size() + (guest_requests_per_copy_chunk == 0
                                           ? 0
                                           : guest.requests / guest_requests_per_copy_chunk + 1));
  uint64_t next_copy_chunk = 0;
  bool copy_done = guest_requests_per_copy_chunk == 0;
  for (size_t i = 0; i < guest.accesses.size(); ++i) {
    const ChunkAccess& access = guest.accesses[i];
    mix.push_back({access.chunk, AccessSource::kGuest});
    const bool request_ends =
        i + 1 == guest.accesses.size() || guest.accesses[i + 1].request != access.request;
    if (copy_done || !request_ends) continue;
    if ((static_cast<uint64_t>(access.request) + 1) % guest_requests_per_copy_chunk == 0) {
      mix.push_back({next_copy_chunk, AccessSource::kBackgroundCopy});
      copy_done = next_copy_chunk++ == last_chunk;
    }
  }
  while (finish_copy && !copy_done) {
    mix.push_back({next_copy_chunk, AccessSource::kBackgroundCopy});
    copy_done = next_copy_chunk++ == last_chunk;
  }
  return mix;
}

}  // namespace chunkcache
