// ChunkHandle: a pinned, read-only view of one decoded chunk in the cache arena.
//
// While any handle to a chunk is alive, the chunk is neither evicted nor its arena bytes
// reused, so data() stays valid for the handle's whole life: hand it to gRPC and release it
// when the message has been sent. Copying a handle adds a pin (one atomic increment);
// destroying it removes one. Handles are thread-compatible values: copy or move them across
// threads freely; data() is immutable.
//
// Every handle must be released before its ChunkCache is destroyed.
//
//   absl::StatusOr<ChunkHandle> chunk = cache->Get(request, deadline);
//   std::string_view bytes = chunk->data().substr(offset_in_chunk, length);
//
// HintedChunk: the pin a session's hinted set keeps on a chunk. It also marks the entry as
// hinted (hits count as hinted_hit, its bytes as hinted) until released.
#ifndef CHUNKCACHE_CACHE_CHUNK_HANDLE_H_
#define CHUNKCACHE_CACHE_CHUNK_HANDLE_H_

#include <cstddef>
#include <string_view>

#include "format/digest.h"

namespace chunkcache {

namespace internal {
struct CacheEntry;
class CacheCore;
class RoomSignal;
}  // namespace internal

class ChunkHandle {
 public:
  ChunkHandle() = default;  // empty: data() is ""
  ChunkHandle(const ChunkHandle& other);
  ChunkHandle(ChunkHandle&& other) noexcept;
  ChunkHandle& operator=(const ChunkHandle& other);
  ChunkHandle& operator=(ChunkHandle&& other) noexcept;
  ~ChunkHandle() { Release(); }

  std::string_view data() const { return data_; }
  size_t size() const { return data_.size(); }
  // The cache key (CacheKeyFor) of the chunk; only valid on a non-empty handle.
  const ChunkDigest& cache_key() const;
  bool empty() const { return entry_ == nullptr; }

  // Drops the pin now; the handle becomes empty. Dropping a chunk's last pin makes it
  // evictable and wakes fills waiting for room.
  void Release();

 private:
  friend class internal::CacheCore;
  friend class HintedChunk;
  // Adopts a pin already taken on `entry`, whose decoded bytes are `data`; `room` is told
  // when the last pin goes.
  ChunkHandle(internal::CacheEntry* entry, std::string_view data, const internal::RoomSignal* room)
      : entry_(entry), data_(data), room_(room) {}

  internal::CacheEntry* entry_ = nullptr;
  std::string_view data_;
  const internal::RoomSignal* room_ = nullptr;
};

class HintedChunk {
 public:
  explicit HintedChunk(ChunkHandle handle);
  HintedChunk(HintedChunk&& other) noexcept = default;
  HintedChunk& operator=(HintedChunk&& other) noexcept;
  HintedChunk(const HintedChunk&) = delete;
  HintedChunk& operator=(const HintedChunk&) = delete;
  ~HintedChunk();

  const ChunkHandle& handle() const { return handle_; }

 private:
  void Unhint();
  ChunkHandle handle_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CHUNK_HANDLE_H_
