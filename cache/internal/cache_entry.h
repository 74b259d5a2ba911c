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
// Size: the cache holds one entry per cached chunk, so it is kept small (56 bytes, one 64-byte
// heap block). The bytes are not pointed to: they are at start_page of the arena
// (CacheCore::EntryBytes). A plain chunk's cache key is its digest (CacheKeyFor), so only
// other entries (encrypted ones) carry the upstream digest and the key fingerprint, in a
// larger allocation of the same type; Create and Destroy choose the right one.
//
//   CacheEntry* entry = CacheEntry::Create(request.cache_key, request.digest, fingerprint);
//   entry->pins.fetch_add(1, std::memory_order_relaxed);   // under the shard mutex (a hit)
//   return ChunkHandle(entry, bytes);                       // the handle owns that pin
//   CacheEntry::Destroy(entry);                             // evicted: pins 0, out of the map
#ifndef CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_
#define CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_

#include <atomic>
#include <cstdint>

#include "cache/internal/arena_file.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache::internal {

struct CacheEntry {
  // `key_fingerprint`: the key the chunk was decrypted with; nullptr for a plain chunk.
  static CacheEntry* Create(const ChunkDigest& cache_key, const ChunkDigest& digest,
                            const RawKey* key_fingerprint);
  static void Destroy(CacheEntry* entry);

  // The upstream name, checked again when a persisted entry is reloaded.
  const ChunkDigest& digest() const;
  // Decrypted with the key whose fingerprint key_fingerprint() gives (only then valid).
  bool encrypted() const { return encrypted_; }
  const RawKey& key_fingerprint() const;
  uint64_t reserved_bytes() const { return uint64_t{pages} * kArenaPageSize; }

  const ChunkDigest cache_key;
  // The extent in the arena: pages of kArenaPageSize (an arena has at most 2^32 pages, which
  // CacheCore checks). `pages` may shrink before publication (CacheCore::ShrinkReserved).
  uint32_t start_page = 0;
  uint32_t pages = 0;
  uint32_t size = 0;  // decoded bytes, at most kMaxChunkSize

  // Handles alive (ChunkHandle) plus a verifier's temporary pin.
  std::atomic<int32_t> pins{0};
  // Open sessions whose hinted set holds this entry (each also holds a pin).
  std::atomic<int32_t> hint_refs{0};
  // Filled by readahead and not read by a demand lookup yet: counted as wasted if evicted so.
  std::atomic<bool> prefetched_unused{false};
  // False for an entry reloaded from a persisted arena until its digest is checked again.
  std::atomic<bool> verified{true};

 protected:
  CacheEntry(const ChunkDigest& key, bool keyed, bool encrypted)
      : cache_key(key), keyed_(keyed), encrypted_(encrypted) {}
  ~CacheEntry() = default;

 private:
  const bool keyed_;  // a KeyedCacheEntry: the digest differs from the cache key
  const bool encrypted_;
};

// An entry whose cache key is not its digest (an encrypted chunk's key is derived from the
// digest and the key fingerprint).
struct KeyedCacheEntry final : CacheEntry {
  KeyedCacheEntry(const ChunkDigest& key, const ChunkDigest& chunk_digest,
                  const RawKey* fingerprint)
      : CacheEntry(key, /*keyed=*/true, fingerprint != nullptr),
        digest(chunk_digest),
        key_fingerprint(fingerprint != nullptr ? *fingerprint : RawKey{}) {}

  const ChunkDigest digest;
  const RawKey key_fingerprint;
};

static_assert(sizeof(CacheEntry) <= 56, "a plain entry fits a 64-byte heap block");

inline CacheEntry* CacheEntry::Create(const ChunkDigest& cache_key, const ChunkDigest& digest,
                                      const RawKey* key_fingerprint) {
  if (key_fingerprint == nullptr && cache_key == digest) {
    return new CacheEntry(cache_key, /*keyed=*/false, /*encrypted=*/false);
  }
  return new KeyedCacheEntry(cache_key, digest, key_fingerprint);
}

inline void CacheEntry::Destroy(CacheEntry* entry) {
  if (entry->keyed_) {
    delete static_cast<KeyedCacheEntry*>(entry);
  } else {
    delete entry;
  }
}

inline const ChunkDigest& CacheEntry::digest() const {
  return keyed_ ? static_cast<const KeyedCacheEntry*>(this)->digest : cache_key;
}

inline const RawKey& CacheEntry::key_fingerprint() const {
  return static_cast<const KeyedCacheEntry*>(this)->key_fingerprint;
}

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_CACHE_ENTRY_H_
