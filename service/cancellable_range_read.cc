#include "service/cancellable_range_read.h"

#include <utility>

namespace chunkcache {

void CancellableRangeRead::Start(SnapshotSession& session, uint64_t offset, uint64_t length) {
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
  }
  std::shared_ptr<CancellableRangeRead> self = shared_from_this();
  RangeReadTicket ticket = session.ReadAsync(
      offset, length,
      [self](absl::StatusOr<RangeRead> result) { self->OnResult(std::move(result)); });
  if (ticket.ready()) {
    {
      absl::MutexLock lock(&mu_);
      issuing_ = false;
    }
    Deliver(ticket.TakeResult());
    return;
  }
  std::optional<absl::StatusOr<RangeRead>> early;
  bool cancelled_while_issuing = false;
  {
    absl::MutexLock lock(&mu_);
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

void CancellableRangeRead::OnResult(absl::StatusOr<RangeRead> result) {
  {
    absl::MutexLock lock(&mu_);
    if (issuing_) {
      // Start has not stored the ticket yet: it delivers this itself when it has.
      early_.emplace(std::move(result));
      return;
    }
  }
  Deliver(std::move(result));
}

void CancellableRangeRead::Deliver(absl::StatusOr<RangeRead> result) {
  // The ticket's read operation holds the callback that holds this object: drop the ticket
  // once the result is here, or the two would keep each other alive.
  RangeReadTicket finished;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || delivered_) return;
    delivered_ = true;
    finished = std::move(ticket_);
  }
  on_done_(std::move(result));
}

bool CancellableRangeRead::Cancel() {
  RangeReadTicket ticket;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || delivered_) return false;
    cancelled_ = true;
    ticket = std::move(ticket_);
  }
  // Outside the lock: the cache may be delivering on another thread right now, and OnResult
  // takes mu_. A result that arrives anyway is dropped because cancelled_ is set.
  ticket.Cancel();
  return true;
}

}  // namespace chunkcache
