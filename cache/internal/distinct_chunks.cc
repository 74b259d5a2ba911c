#include "cache/internal/distinct_chunks.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "cache/chunk_request.h"

namespace chunkcache::internal {
namespace {

// Keys looked up per CachedBytes call on the cache: bounds the scratch vector.
constexpr size_t kLookupBatch = 4096;

}  // namespace

DistinctChunks::DistinctChunks(const ChunkIndex& index, const CryptConfig* key)
    : keyed_(key != nullptr || index.chunk_count() > std::numeric_limits<uint32_t>::max()) {
  absl::flat_hash_set<ChunkDigest> seen;
  seen.reserve(index.chunk_count());
  for (size_t entry = 0; entry < index.chunk_count(); ++entry) {
    const ChunkDigest& digest = index.digest(entry);
    if (!seen.insert(digest).second) continue;
    if (keyed_) {
      keys_.push_back(CacheKeyFor(digest, key));
    } else {
      first_entries_.push_back(static_cast<uint32_t>(entry));
    }
  }
  keys_.shrink_to_fit();
  first_entries_.shrink_to_fit();
}

uint64_t DistinctChunks::heap_bytes() const {
  return keys_.capacity() * sizeof(ChunkDigest) + first_entries_.capacity() * sizeof(uint32_t);
}

uint64_t DistinctChunks::CachedBytes(const ChunkIndex& index, const ChunkCache& cache) const {
  if (keyed_) return cache.CachedBytes(keys_);
  uint64_t bytes = 0;
  std::vector<ChunkDigest> batch;
  batch.reserve(std::min(kLookupBatch, first_entries_.size()));
  for (size_t done = 0; done < first_entries_.size(); done += batch.size()) {
    batch.clear();
    const size_t end = std::min(first_entries_.size(), done + kLookupBatch);
    for (size_t i = done; i < end; ++i) batch.push_back(index.digest(first_entries_[i]));
    bytes += cache.CachedBytes(batch);
  }
  return bytes;
}

}  // namespace chunkcache::internal
