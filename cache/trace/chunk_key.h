// ChunkKeyForId: a distinct ChunkDigest standing for chunk id `id` of a replayed trace, whose
// first 8 bytes (the digest's hash) are well mixed, like a real SHA-256.
#ifndef CHUNKCACHE_CACHE_TRACE_CHUNK_KEY_H_
#define CHUNKCACHE_CACHE_TRACE_CHUNK_KEY_H_

#include <cstdint>
#include <cstring>

#include "format/digest.h"

namespace chunkcache {

inline ChunkDigest ChunkKeyForId(uint64_t id) {
  // splitmix64's finalizer is a bijection, so distinct ids give distinct digests.
  uint64_t mixed = id + 0x9e3779b97f4a7c15ULL;
  mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ULL;
  mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebULL;
  mixed ^= mixed >> 31;
  ChunkDigest digest;
  std::memcpy(digest.bytes.data(), &mixed, sizeof(mixed));
  std::memcpy(digest.bytes.data() + sizeof(mixed), &id, sizeof(id));
  return digest;
}

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_CHUNK_KEY_H_
