#include "format/chunker.h"

#include <array>
#include <bit>

namespace chunkcache {
namespace {

constexpr size_t kWindowSize = 64;
constexpr size_t kMinAverage = 64 * 1024;

// 256 pseudo-random 32-bit values (splitmix64), one per byte value. Any well-mixed table
// works; a fixed one keeps boundaries stable across builds and machines.
constexpr std::array<uint32_t, 256> MakeBuzhashTable() {
  std::array<uint32_t, 256> table{};
  uint64_t state = 0x2d358dccaa6c78a5ull;
  for (uint32_t& entry : table) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    entry = static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
  }
  return table;
}
constexpr std::array<uint32_t, 256> kBuzhash = MakeBuzhashTable();

// The average rounded up to a power of two, at least 64 KiB (the constructor cannot fail).
size_t NormalizedAverage(size_t average_size) {
  if (average_size < kMinAverage) return kMinAverage;
  if (average_size > (size_t{1} << 40)) return size_t{1} << 40;
  return std::bit_ceil(average_size);
}

}  // namespace

ContentChunker::ContentChunker(size_t average_size)
    : min_size_(NormalizedAverage(average_size) / 4),
      max_size_(NormalizedAverage(average_size) * 4),
      // As PBS: cut where the hash's low bits (twice the average) are all but the lowest
      // two ones, so that a run of zeros (hash 0) never cuts before the maximum.
      break_mask_(static_cast<uint32_t>(NormalizedAverage(average_size) * 2 - 1)) {}

size_t ContentChunker::Scan(std::string_view data) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  size_t pos = 0;
  // Fill the window before the hash means anything; no cut can happen inside it because
  // the minimum chunk size is far larger than the window.
  while (window_pos_ < kWindowSize && pos < data.size()) {
    uint8_t byte = bytes[pos++];
    window_[window_pos_++] = byte;
    hash_ = std::rotl(hash_, 1) ^ kBuzhash[byte];
    ++chunk_len_;
  }
  if (window_pos_ < kWindowSize) return 0;

  const uint32_t break_minimum = break_mask_ - 2;
  while (pos < data.size()) {
    // The byte leaving the window entered 64 rotations ago, a multiple of 32: its table
    // value is back in its original position, so a plain XOR removes it.
    size_t slot = chunk_len_ % kWindowSize;
    uint8_t enter = bytes[pos++];
    uint8_t leave = window_[slot];
    window_[slot] = enter;
    hash_ = std::rotl(hash_, 1) ^ kBuzhash[leave] ^ kBuzhash[enter];
    ++chunk_len_;
    bool cut = chunk_len_ >= max_size_ ||
               (chunk_len_ >= min_size_ && (hash_ & break_mask_) >= break_minimum);
    if (cut) {
      hash_ = 0;
      chunk_len_ = 0;
      window_pos_ = 0;
      return pos;
    }
  }
  return 0;
}

}  // namespace chunkcache
