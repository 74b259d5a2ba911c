// zstd for DataBlobs (spec §1.4), internal to format/. Decompression streams with a hard
// output limit and never trusts the frame's content size: PBS ≤ 3.2.7 wrote frames without
// one, and a hostile frame may declare anything. Concatenated and skippable frames are
// accepted, as upstream's decoders do.
//
//   ZstdResult r = ZstdDecompressInto(frame, absl::MakeSpan(buf), /*limit=*/buf.size());
//   if (r.failure == ZstdFailure::kOverLimit) ...
#ifndef CHUNKCACHE_FORMAT_ZSTD_CODEC_H_
#define CHUNKCACHE_FORMAT_ZSTD_CODEC_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace chunkcache {

enum class ZstdFailure {
  kNone,
  kCorrupt,    // zstd rejected the data (detail holds zstd's error name)
  kTruncated,  // the input ends inside a frame, or holds no frame at all
  kOverLimit,  // the output would exceed the limit
  kNoMemory,   // zstd could not allocate its context
};

struct ZstdResult {
  ZstdFailure failure = ZstdFailure::kNone;
  size_t size = 0;     // decompressed bytes on success
  std::string detail;  // for kCorrupt
};

// Decompresses every frame of `input` into `out`, writing at most min(out.size(), limit)
// bytes.
ZstdResult ZstdDecompressInto(std::string_view input, absl::Span<char> out, size_t limit);

// The same into `out`, which grows as needed up to `limit` bytes and is resized to the
// decompressed length on success.
ZstdResult ZstdDecompressToString(std::string_view input, size_t limit, std::string& out);

// The decompressed length the frames of `input` declare in their headers (the sum over all
// frames), without decompressing; nullopt when a frame does not declare it or the input is not
// zstd. A claim only: decompression checks nothing against it.
std::optional<size_t> ZstdDeclaredContentSize(std::string_view input);

// One-shot zstd level-1 compression of `data` into `out`. Returns the frame length, or
// nullopt when the frame does not fit (the caller then stores the data uncompressed).
std::optional<size_t> ZstdCompressLevel1(std::string_view data, absl::Span<char> out);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_ZSTD_CODEC_H_
