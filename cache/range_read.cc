#include "cache/range_read.h"

#include <utility>

#include "cache/internal/range_read_op.h"

namespace chunkcache {

uint64_t RangeRead::length() const {
  uint64_t total = 0;
  for (const ChunkSlice& slice : slices) total += slice.length;
  return total;
}

std::string RangeRead::CopyBytes() const {
  std::string bytes;
  bytes.reserve(length());
  for (const ChunkSlice& slice : slices) bytes.append(slice.data());
  return bytes;
}

absl::StatusOr<RangeRead> RangeReadTicket::TakeResult() {
  if (!result_.has_value()) {
    return absl::FailedPreconditionError("the read is still waiting for its chunks");
  }
  absl::StatusOr<RangeRead> result = *std::move(result_);
  result_.reset();
  return result;
}

bool RangeReadTicket::Cancel() {
  if (op_ == nullptr) return false;
  const bool cancelled = op_->Cancel();
  op_.reset();
  return cancelled;
}

}  // namespace chunkcache
