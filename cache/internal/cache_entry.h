// CacheEntry: one cached chunk: where its decoded bytes are in the arena and who holds it.
//
// Ownership: the cache owns entries (created by a fill or a persisted-arena reload, deleted
// when evicted or dropped). An entry is deleted only when `pins` is 0 and it is no longer in
// its shard's map, which the evicting thread checks under the shard mutex; hit paths pin
// under that same mutex, and existing handles may pin again without it (the count is already
// positive). So a ChunkHandle's entry and bytes stay valid until the handle is released.
//
// Fields without atomics are written before the entry is published (under the shard mutex)
// and never change afterwards, except where noted.
//
//   entry->pins.fetch_add(1, std::memory_order_relaxed);   // under the shard mutex (a hit)
//   return ChunkHandle(entry);                              // the handle owns that pin
#ifndef CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_
#define CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_

#include <atomic>
#include <cstdint>

#include "cache/internal/arena_file.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache::internal {

struct CacheEntry {
  ChunkDigest cache_key;
  ChunkDigest digest;  // the upstream name, checked again when a persisted entry is reloaded
  char* data = nullptr;
  uint64_t size = 0;        // decoded bytes
  uint64_t start_page = 0;  // extent in the arena
  uint64_t pages = 0;
  bool encrypted = false;  // decrypted with the key whose fingerprint follows
  RawKey key_fingerprint{};

  // Handles alive (ChunkHandle) plus a verifier's temporary pin.
  std::atomic<int32_t> pins{0};
  // Open sessions whose hinted set holds this entry (each also holds a pin).
  std::atomic<int32_t> hint_refs{0};
  // Filled by readahead and not read by a demand lookup yet: counted as wasted if evicted so.
  std::atomic<bool> prefetched_unused{false};
  // False for an entry reloaded from a persisted arena until its digest is checked again.
  std::atomic<bool> verified{true};

  uint64_t reserved_bytes() const { return pages * kArenaPageSize; }
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_
