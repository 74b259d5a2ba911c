#include "cache/trace/chunk_accesses.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

// Far beyond any real request; stops a corrupt length from exhausting memory.
constexpr uint64_t kMaxChunksPerRequest = 1 << 20;

}  // namespace

absl::StatusOr<ChunkAccessTrace> ToChunkAccesses(absl::Span<const BlockRequest> requests,
                                                 const ChunkAccessOptions& options) {
  if (options.chunk_size == 0) return absl::InvalidArgumentError("chunk size must be > 0");
  ChunkAccessTrace trace;
  absl::flat_hash_set<uint64_t> seen;
  for (size_t i = 0; i < requests.size(); ++i) {
    const BlockRequest& request = requests[i];
    if (request.length == 0 || request.op == BlockOp::kOther) continue;
    if (request.offset > std::numeric_limits<uint64_t>::max() - (request.length - 1)) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, " at offset ", request.offset,
                                                     " length ", request.length,
                                                     " ends beyond 2^64 bytes"));
    }
    const uint64_t first = request.offset / options.chunk_size;
    const uint64_t last = (request.offset + request.length - 1) / options.chunk_size;
    if (last - first >= kMaxChunksPerRequest) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, " (", request.length, " bytes) spans more than ",
                       kMaxChunksPerRequest, " chunks of ", options.chunk_size, " bytes"));
    }
    trace.max_chunk = std::max(trace.max_chunk, last);
    if (options.reads_only && request.op != BlockOp::kRead) continue;
    if (trace.requests == std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError("trace has more than 2^32 requests");
    }
    const auto request_index = static_cast<uint32_t>(trace.requests++);
    if (last > first) ++trace.spanning_requests;
    for (uint64_t chunk = first; chunk <= last; ++chunk) {
      trace.accesses.push_back({chunk, request_index});
      seen.insert(chunk);
    }
  }
  trace.unique_chunks = seen.size();
  return trace;
}

}  // namespace chunkcache
