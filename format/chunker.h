// ContentChunker: content-defined chunking for dynamic indexes, with PBS's limits for a
// 4 MiB average (min avg/4 = 1 MiB, max avg*4 = 16 MiB). A rolling hash over a 64-byte window
// cuts where its low bits match a mask derived from the average size, so identical content
// at different offsets produces the same chunks.
//
//   ContentChunker chunker;                       // 4 MiB average
//   size_t cut = chunker.Scan(buffer);             // 0: no boundary in `buffer` yet
#ifndef CHUNKCACHE_FORMAT_CHUNKER_H_
#define CHUNKCACHE_FORMAT_CHUNKER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chunkcache {

class ContentChunker {
 public:
  // `average_size` must be a power of two ≥ 64 KiB.
  explicit ContentChunker(size_t average_size = 4 * 1024 * 1024);

  size_t min_size() const { return min_size_; }
  size_t max_size() const { return max_size_; }

  // Feeds `data` (the bytes following everything fed so far). Returns the number of bytes of
  // `data` that complete the current chunk, or 0 if the chunk continues past `data`. After a
  // non-zero return the chunker has started the next chunk; feed the rest of `data` again.
  size_t Scan(std::string_view data);

 private:
  size_t min_size_;
  size_t max_size_;
  uint32_t break_mask_;
  size_t chunk_len_ = 0;
  uint32_t hash_ = 0;
  uint8_t window_[64]{};
  size_t window_pos_ = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_CHUNKER_H_
