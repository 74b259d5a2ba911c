// From block requests to chunk accesses, the conversion rule of shared/traces/REFERENCE.md:
// a request [offset, offset + length) touches chunks offset / C .. (offset + length - 1) / C
// in ascending order, one access each; requests of length 0 and opcodes other than READ and
// WRITE are dropped; `reads_only` keeps only reads.
//
//   absl::StatusOr<ChunkAccessTrace> trace =
//       ToChunkAccesses(requests, {.chunk_size = 4 << 20, .reads_only = false});
#ifndef CHUNKCACHE_CACHE_TRACE_CHUNK_ACCESSES_H_
#define CHUNKCACHE_CACHE_TRACE_CHUNK_ACCESSES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/trace/block_request.h"

namespace chunkcache {

struct ChunkAccessOptions {
  uint64_t chunk_size = 4 << 20;
  bool reads_only = false;
};

struct ChunkAccess {
  uint64_t chunk = 0;    // chunk id: byte offset / chunk size
  uint32_t request = 0;  // index of the request (among those kept) that made this access
};

struct ChunkAccessTrace {
  std::vector<ChunkAccess> accesses;
  uint64_t requests = 0;           // requests kept
  uint64_t spanning_requests = 0;  // requests touching more than one chunk
  uint64_t unique_chunks = 0;      // the working set
  // Highest chunk id touched by any READ or WRITE request, also those `reads_only` drops:
  // the extent of the disk as far as the trace shows it.
  uint64_t max_chunk = 0;
};

// INVALID_ARGUMENT for a chunk size of 0 or a request whose end overflows or that spans
// more than 2^20 chunks.
absl::StatusOr<ChunkAccessTrace> ToChunkAccesses(absl::Span<const BlockRequest> requests,
                                                 const ChunkAccessOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_CHUNK_ACCESSES_H_
