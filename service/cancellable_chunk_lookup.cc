#include "service/cancellable_chunk_lookup.h"

#include <utility>

namespace chunkcache {

void CancellableChunkLookup::Start(ChunkCache& cache, const ChunkRequest& request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return;
  }
  std::shared_ptr<CancellableChunkLookup> self = shared_from_this();
  ChunkLookup ticket = cache.Lookup(
      request, [self](absl::StatusOr<ChunkHandle> result) { self->OnResult(std::move(result)); });
  if (ticket.ready()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      issuing_ = false;
    }
    Deliver(ticket.TakeResult());
    return;
  }
  std::optional<absl::StatusOr<ChunkHandle>> early;
  bool cancelled_while_issuing = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    issuing_ = false;
    if (early_.has_value()) {
      early = std::move(early_);
      early_.reset();
    } else if (cancelled_) {
      cancelled_while_issuing = true;
    } else {
      ticket_ = std::move(ticket);
    }
  }
  if (cancelled_while_issuing) {
    ticket.Cancel();  // whatever it returns, OnResult drops the result: cancelled_ is set
    return;
  }
  if (early.has_value()) Deliver(*std::move(early));
}

void CancellableChunkLookup::OnResult(absl::StatusOr<ChunkHandle> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (issuing_) {
      // Start has not stored the ticket yet: it delivers this itself when it has.
      early_.emplace(std::move(result));
      return;
    }
  }
  Deliver(std::move(result));
}

void CancellableChunkLookup::Deliver(absl::StatusOr<ChunkHandle> result) {
  ChunkLookup finished;  // dropped outside the lock, once the result is here
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_ || delivered_) return;
    delivered_ = true;
    finished = std::move(ticket_);
  }
  on_done_(std::move(result));
}

bool CancellableChunkLookup::Cancel() {
  ChunkLookup ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_ || delivered_) return false;
    cancelled_ = true;
    ticket = std::move(ticket_);
  }
  // Outside the lock: the cache may be delivering on another thread, and OnResult takes mu_.
  ticket.Cancel();
  return true;
}

}  // namespace chunkcache
