#include "cache/chunk_handle.h"

#include <utility>

#include "cache/internal/cache_entry.h"

namespace chunkcache {

ChunkHandle::ChunkHandle(const ChunkHandle& other) : entry_(other.entry_), data_(other.data_) {
  // The other handle's pin keeps the count positive, so no lock is needed to add one.
  if (entry_ != nullptr) entry_->pins.fetch_add(1, std::memory_order_relaxed);
}

ChunkHandle::ChunkHandle(ChunkHandle&& other) noexcept
    : entry_(std::exchange(other.entry_, nullptr)), data_(std::exchange(other.data_, {})) {}

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
  }
  return *this;
}

void ChunkHandle::Release() {
  if (entry_ == nullptr) return;
  // Release order: every read of data() by this handle happens before an evictor that sees
  // the count drop to zero (acquire) reuses the bytes.
  entry_->pins.fetch_sub(1, std::memory_order_release);
  entry_ = nullptr;
  data_ = {};
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
