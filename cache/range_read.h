// RangeRead: the answer to a read of archive bytes [offset, offset + length): the pinned
// chunks that hold them, as slices in archive order, without copying a byte.
//
// Each slice keeps its chunk pinned (ChunkHandle) for as long as the RangeRead, or a copy of
// the slice, is alive: hand the slices to gRPC (zero-copy) and drop them once sent.
//
//   absl::StatusOr<RangeRead> read = session->Read(offset, length, deadline);
//   for (const ChunkSlice& slice : read->slices) Send(slice.data());
//   if (read->eof) ...;  // the data ends at the end of the archive
//
// RangeReadTicket is the asynchronous form, with the same contract as ChunkLookup: ready()
// results never invoke the callback; otherwise the callback runs exactly once on a cache
// thread unless Cancel() returns true first.
#ifndef CHUNKCACHE_CACHE_RANGE_READ_H_
#define CHUNKCACHE_CACHE_RANGE_READ_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "cache/chunk_handle.h"

namespace chunkcache {

namespace internal {
class RangeReadOp;
}  // namespace internal

struct ChunkSlice {
  ChunkHandle chunk;
  uint64_t offset_in_chunk = 0;
  uint64_t length = 0;
  std::string_view data() const { return chunk.data().substr(offset_in_chunk, length); }
};

struct RangeRead {
  uint64_t offset = 0;  // archive offset of the first byte of the first slice
  std::vector<ChunkSlice> slices;
  bool eof = false;  // the data ends at the end of the archive

  uint64_t length() const;
  // All bytes in one string (a copy: for tools and tests, not for the serving path).
  std::string CopyBytes() const;
};

using RangeReadCallback = absl::AnyInvocable<void(absl::StatusOr<RangeRead>)>;

class RangeReadTicket {
 public:
  RangeReadTicket() = default;
  RangeReadTicket(RangeReadTicket&&) noexcept = default;
  RangeReadTicket& operator=(RangeReadTicket&&) noexcept = default;

  bool ready() const { return result_.has_value(); }
  absl::StatusOr<RangeRead> TakeResult();
  // True: the callback will never run; every chunk lookup of the read was detached (their
  // fetches continue). False: the callback has run or is about to.
  bool Cancel();

 private:
  friend class SnapshotSession;
  std::optional<absl::StatusOr<RangeRead>> result_;
  std::shared_ptr<internal::RangeReadOp> op_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_RANGE_READ_H_
