// ChooseHintedSet: which of a snapshot's most-referenced chunks its session pins.
//
// Input is MostReferencedDigests (descending reference count, only digests referenced at
// least twice). The hinted set is the longest prefix of that list with at most `max_chunks`
// entries whose decoded sizes add up to at most `max_bytes`: the hottest chunks, never a
// cooler one in place of a hotter one that did not fit.
//
//   std::vector<DigestCount> hot = MostReferencedDigests(index, 16);
//   std::vector<DigestCount> pinned = ChooseHintedSet(hot, 16, 64 << 20);
//
// A pure function.
#ifndef CHUNKCACHE_CACHE_INTERNAL_HINTED_SET_H_
#define CHUNKCACHE_CACHE_INTERNAL_HINTED_SET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/chunk_index.h"

namespace chunkcache::internal {

std::vector<DigestCount> ChooseHintedSet(const std::vector<DigestCount>& most_referenced,
                                         size_t max_chunks, uint64_t max_bytes);

inline uint64_t TotalSize(const std::vector<DigestCount>& digests) {
  uint64_t total = 0;
  for (const DigestCount& d : digests) total += d.size;
  return total;
}

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_HINTED_SET_H_
