#include "cache/internal/range_read_op.h"

#include <utility>

#include "cache/internal/status_copy.h"

namespace chunkcache::internal {

RangeReadOp::RangeReadOp(RangeRead shape, std::vector<std::vector<size_t>> slices_of_lookup,
                         RangeReadCallback on_done)
    : slices_of_lookup_(std::move(slices_of_lookup)),
      on_done_(std::move(on_done)),
      unsettled_(slices_of_lookup_.size() + 1),  // + the issuer's own count
      read_(std::move(shape)),
      lookups_(slices_of_lookup_.size()),
      settled_(slices_of_lookup_.size(), false) {}

std::optional<absl::StatusOr<RangeRead>> RangeReadOp::Issue(
    ChunkCache& cache, const std::vector<ChunkRequest>& requests) {
  std::shared_ptr<RangeReadOp> self = shared_from_this();
  for (size_t i = 0; i < requests.size(); ++i) {
    ChunkLookup lookup = cache.Lookup(requests[i], [self, i](absl::StatusOr<ChunkHandle> chunk) {
      self->OnLookupDone(i, std::move(chunk));
    });
    if (lookup.ready()) {
      OnLookupDone(i, lookup.TakeResult());
      continue;
    }
    size_t cancelled = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lookups_[i] = std::move(lookup);
      // An earlier chunk already failed: this one is not needed.
      if (!error_.ok() && !settled_[i] && lookups_[i].Cancel()) {
        settled_[i] = true;
        cancelled = 1;
      }
    }
    if (cancelled > 0) Settle(cancelled);  // cannot finish: the issuer's count remains
  }
  if (Settle(1) && !finished_.exchange(true, std::memory_order_acq_rel)) return TakeOutcome();
  return std::nullopt;
}

void RangeReadOp::OnLookupDone(size_t index, absl::StatusOr<ChunkHandle> chunk) {
  size_t settle = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (settled_[index]) return;
    settled_[index] = true;
    settle = 1;
    if (cancelled_) {
      // The ticket was cancelled after this lookup's fetch had already handed the chunk to
      // its waiters: nobody reads the slices any more; `chunk` drops its pin on return.
    } else if (chunk.ok()) {
      for (size_t slice : slices_of_lookup_[index]) read_.slices[slice].chunk = *chunk;
    } else if (error_.ok()) {
      error_ = IndependentCopy(chunk.status());
      for (size_t j = 0; j < lookups_.size(); ++j) {
        if (!settled_[j] && lookups_[j].Cancel()) {
          settled_[j] = true;
          ++settle;
        }
      }
    }
  }
  if (Settle(settle) && !finished_.exchange(true, std::memory_order_acq_rel)) {
    on_done_(TakeOutcome());
  }
}

bool RangeReadOp::Settle(size_t count) {
  return unsettled_.fetch_sub(count, std::memory_order_acq_rel) == count;
}

absl::StatusOr<RangeRead> RangeReadOp::TakeOutcome() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!error_.ok()) {
    read_.slices.clear();  // release the pins now
    return std::move(error_);
  }
  return std::move(read_);
}

bool RangeReadOp::Cancel() {
  if (finished_.exchange(true, std::memory_order_acq_rel)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t j = 0; j < lookups_.size(); ++j) {
    if (!settled_[j] && lookups_[j].Cancel()) settled_[j] = true;
  }
  cancelled_ = true;
  read_.slices.clear();
  return true;
}

}  // namespace chunkcache::internal
