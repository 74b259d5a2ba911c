// DistinctChunks: the distinct chunks of one archive's index, found once when its session
// opens, so that StatSnapshot never builds a set of the index (nor derives keyed digests) per
// call.
//
// A plain archive's cache key is the digest, which the index holds already: only the entry of
// each digest's first occurrence is kept (4 bytes). An encrypted archive's cache keys are
// keyed SHA-256 digests, too costly to derive per call: those are kept (32 bytes).
//
//   DistinctChunks distinct(index, source->chunk_key());
//   uint64_t cached = distinct.CachedBytes(index, cache);   // one lookup per distinct chunk
//
// Immutable after construction; thread-safe.
#ifndef CHUNKCACHE_CACHE_INTERNAL_DISTINCT_CHUNKS_H_
#define CHUNKCACHE_CACHE_INTERNAL_DISTINCT_CHUNKS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cache/chunk_cache.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache::internal {

class DistinctChunks {
 public:
  // `key`: the archive's chunk key (null for a plain archive).
  DistinctChunks(const ChunkIndex& index, const CryptConfig* key);

  size_t count() const { return keyed_ ? keys_.size() : first_entries_.size(); }
  // Heap held (not counting the object itself).
  uint64_t heap_bytes() const;
  // Decoded bytes of these chunks in `cache` now; `index` is the one given at construction.
  // Costs one cache lookup per distinct chunk, without holding any lock between batches.
  uint64_t CachedBytes(const ChunkIndex& index, const ChunkCache& cache) const;

 private:
  bool keyed_ = false;
  std::vector<uint32_t> first_entries_;  // plain: the entry of each digest's first occurrence
  std::vector<ChunkDigest> keys_;        // keyed (or an index too long for 32-bit entries)
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_DISTINCT_CHUNKS_H_
