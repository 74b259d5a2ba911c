#include "format/zstd_codec.h"

#include <zstd.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "absl/functional/function_ref.h"

namespace chunkcache {
namespace {

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};
struct CCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};

// Contexts are reused per thread: creating one costs more than decoding a small chunk.
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

// Smallest output buffer DecompressToString starts from or grows to.
constexpr size_t kMinInitial = 64 * 1024;

ZstdResult Corrupt(size_t code) {
  return ZstdResult{ZstdFailure::kCorrupt, 0, ZSTD_getErrorName(code)};
}

// The decode loop shared by both entry points. `buffer` is the current output buffer (its
// first `produced` bytes are output); when it is full, `grow(produced)` may return a larger
// one holding the same prefix, or the same buffer when it cannot grow.
ZstdResult Decompress(std::string_view input, absl::Span<char> buffer, size_t limit,
                      absl::FunctionRef<absl::Span<char>(size_t)> grow) {
  if (input.empty()) return ZstdResult{ZstdFailure::kTruncated, 0, {}};
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (dctx == nullptr) return ZstdResult{ZstdFailure::kNoMemory, 0, {}};
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);

  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t produced = 0;
  while (true) {
    size_t window = std::min(buffer.size(), limit);
    if (produced == window && window < limit) {
      buffer = grow(produced);
      window = std::min(buffer.size(), limit);
    }
    const size_t in_before = in.pos;
    const size_t out_before = produced;
    size_t ret;
    if (produced == window) {
      // The output is full: one more byte from the stream means the data is over the limit.
      char probe;
      ZSTD_outBuffer probe_out{&probe, 1, 0};
      ret = ZSTD_decompressStream(dctx, &probe_out, &in);
      if (ZSTD_isError(ret)) return Corrupt(ret);
      if (probe_out.pos != 0) return ZstdResult{ZstdFailure::kOverLimit, 0, {}};
    } else {
      ZSTD_outBuffer out{buffer.data(), window, produced};
      ret = ZSTD_decompressStream(dctx, &out, &in);
      if (ZSTD_isError(ret)) return Corrupt(ret);
      produced = out.pos;
    }
    // ret == 0: a frame ended and everything was flushed; more input means another frame.
    if (ret == 0 && in.pos == in.size) return ZstdResult{ZstdFailure::kNone, produced, {}};
    if (in.pos == in_before && produced == out_before) {
      // No progress with all input in hand: the last frame is cut short.
      return ZstdResult{ZstdFailure::kTruncated, 0, {}};
    }
  }
}

}  // namespace

std::optional<size_t> ZstdDeclaredContentSize(std::string_view input) {
  // Frame by frame (ZSTD_findDecompressedSize, which sums them, is not in the stable API).
  size_t total = 0;
  while (!input.empty()) {
    const unsigned long long size = ZSTD_getFrameContentSize(input.data(), input.size());
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return std::nullopt;
    const size_t frame_bytes = ZSTD_findFrameCompressedSize(input.data(), input.size());
    if (ZSTD_isError(frame_bytes) || frame_bytes == 0 || frame_bytes > input.size()) {
      return std::nullopt;
    }
    if (size > std::numeric_limits<size_t>::max() - total) return std::nullopt;
    total += static_cast<size_t>(size);
    input.remove_prefix(frame_bytes);
  }
  return total;
}

ZstdResult ZstdDecompressInto(std::string_view input, absl::Span<char> out, size_t limit) {
  return Decompress(input, out, limit, [out](size_t) { return out; });
}

ZstdResult ZstdDecompressToString(std::string_view input, size_t limit, std::string& out) {
  // Start from the declared content size when there is one (a hint only: the loop grows or
  // fails at the limit regardless), else from a multiple of the input.
  unsigned long long declared = ZSTD_getFrameContentSize(input.data(), input.size());
  size_t initial = std::max(kMinInitial, input.size() * 4);
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    initial = static_cast<size_t>(std::min<unsigned long long>(declared, limit));
  }
  out.resize(std::min(initial, limit));
  ZstdResult result = Decompress(input, absl::MakeSpan(out), limit, [&out, limit](size_t) {
    out.resize(std::min(limit, std::max<size_t>(out.size() * 2, kMinInitial)));
    return absl::MakeSpan(out);
  });
  out.resize(result.failure == ZstdFailure::kNone ? result.size : 0);
  return result;
}

std::optional<size_t> ZstdCompressLevel1(std::string_view data, absl::Span<char> out) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return std::nullopt;
  size_t ret = ZSTD_compressCCtx(cctx, out.data(), out.size(), data.data(), data.size(), 1);
  if (ZSTD_isError(ret)) return std::nullopt;
  return ret;
}

}  // namespace chunkcache
