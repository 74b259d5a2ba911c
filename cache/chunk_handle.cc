#include "cache/chunk_handle.h"

#include <utility>

#include "cache/internal/cache_entry.h"
#include "cache/internal/room_signal.h"

namespace chunkcache {

ChunkHandle::ChunkHandle(const ChunkHandle& other)
    : entry_(other.entry_), data_(other.data_), room_(other.room_) {
  // The other handle's pin keeps the count positive, so no lock is needed to add one.
  if (entry_ != nullptr) entry_->pins.fetch_add(1, std::memory_order_relaxed);
}

ChunkHandle::ChunkHandle(ChunkHandle&& other) noexcept
    : entry_(std::exchange(other.entry_, nullptr)),
      data_(std::exchange(other.data_, {})),
      room_(std::exchange(other.room_, nullptr)) {}

ChunkHandle& ChunkHandle::operator=(const ChunkHandle& other) {
  if (this != &other) {
    ChunkHandle copy(other);
    *this = std::move(copy);
  }
  return *this;
}

ChunkHandle& ChunkHandle::operator=(ChunkHandle&& other) noexcept {
  if (this != &other) {
    Release();
    entry_ = std::exchange(other.entry_, nullptr);
    data_ = std::exchange(other.data_, {});
    room_ = std::exchange(other.room_, nullptr);
  }
  return *this;
}

void ChunkHandle::Release() {
  if (entry_ == nullptr) return;
  // Release order: every read of data() by this handle happens before an evictor that sees
  // the count drop to zero (acquire) reuses the bytes. Sequentially consistent, and the entry
  // is not touched afterwards (it may be evicted at once): a fill waiting for room either
  // sees this pin gone or is woken (room_signal.h).
  const bool last = entry_->pins.fetch_sub(1, std::memory_order_seq_cst) == 1;
  if (last && room_ != nullptr) room_->NotifyIfWaiting();
  entry_ = nullptr;
  data_ = {};
  room_ = nullptr;
}

const ChunkDigest& ChunkHandle::cache_key() const { return entry_->cache_key; }

HintedChunk::HintedChunk(ChunkHandle handle) : handle_(std::move(handle)) {
  if (handle_.entry_ != nullptr) handle_.entry_->hint_refs.fetch_add(1, std::memory_order_relaxed);
}

void HintedChunk::Unhint() {
  if (handle_.entry_ != nullptr) handle_.entry_->hint_refs.fetch_sub(1, std::memory_order_relaxed);
}

HintedChunk& HintedChunk::operator=(HintedChunk&& other) noexcept {
  if (this != &other) {
    Unhint();
    handle_ = std::move(other.handle_);
  }
  return *this;
}

HintedChunk::~HintedChunk() { Unhint(); }

}  // namespace chunkcache
