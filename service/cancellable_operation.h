// CancellableOperation<Result, Ticket>: one asynchronous cache operation — a
// SnapshotSession::ReadAsync, a ChunkCache::Lookup — whose outcome reaches its callback exactly
// once, unless Cancel() wins the race; built for gRPC callback reactors, where OnCancel may
// arrive on one thread while the operation completes on a cache thread.
//
//   auto read = std::make_shared<CancellableRangeRead>([this](absl::StatusOr<RangeRead> r) {
//     Finish(...);                        // runs inline in Start or on a cache thread
//   });
//   { absl::MutexLock lock(&mu_); read_ = read; }   // visible to OnCancel before Start
//   read->Start([&](auto on_result) {               // the last thing that touches `this`
//     return session.ReadAsync(offset, length, std::move(on_result));
//   });
//   ...
//   void OnCancel() override { if (read_->Cancel()) Finish(cancelled); }
//
// Guarantees: the callback runs at most once, never while Start is still issuing the
// operation on another thread (an early result is handed over and delivered by Start itself),
// and never after Cancel() returned true. Cancel() only detaches this waiter: chunk fetches
// belong to the cache and keep going for other readers. Cancel before Start is allowed (Start
// then does nothing). Thread-safe; hold it by shared_ptr (the cache callback keeps it alive).
//
// `Ticket` is the operation's handle: default-constructible and movable, with ready(),
// TakeResult() and Cancel() (cache/range_read.h RangeReadTicket, cache/chunk_lookup.h
// ChunkLookup).
#ifndef CHUNKCACHE_SERVICE_CANCELLABLE_OPERATION_H_
#define CHUNKCACHE_SERVICE_CANCELLABLE_OPERATION_H_

#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "cache/chunk_handle.h"
#include "cache/chunk_lookup.h"
#include "cache/range_read.h"

namespace chunkcache {

template <typename Result, typename Ticket>
class CancellableOperation
    : public std::enable_shared_from_this<CancellableOperation<Result, Ticket>> {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Result>)>;
  // Starts the operation with the callback it must complete and returns its ticket.
  using Issue = absl::FunctionRef<Ticket(Callback)>;

  explicit CancellableOperation(Callback on_done) : on_done_(std::move(on_done)) {}
  CancellableOperation(const CancellableOperation&) = delete;
  CancellableOperation& operator=(const CancellableOperation&) = delete;

  // Issues the operation. Call once.
  void Start(Issue issue) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
    }
    std::shared_ptr<CancellableOperation> self = this->shared_from_this();
    Ticket ticket =
        issue([self](absl::StatusOr<Result> result) { self->OnResult(std::move(result)); });
    if (ticket.ready()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        issuing_ = false;
      }
      Deliver(ticket.TakeResult());
      return;
    }
    std::optional<absl::StatusOr<Result>> early;
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

  // True: the callback will never run (the caller now owns finishing the RPC). False: it has
  // run or is running.
  bool Cancel() {
    Ticket ticket;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_ || delivered_) return false;
      cancelled_ = true;
      ticket = std::move(ticket_);
    }
    // Outside the lock: the cache may be delivering on another thread right now, and OnResult
    // takes mu_. A result that arrives anyway is dropped because cancelled_ is set.
    ticket.Cancel();
    return true;
  }

 private:
  void OnResult(absl::StatusOr<Result> result) {
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

  // Runs the callback unless cancelled; claims delivery under the lock.
  void Deliver(absl::StatusOr<Result> result) {
    // The ticket's operation holds the callback that holds this object: drop the ticket once
    // the result is here, or the two would keep each other alive. Dropped outside the lock.
    Ticket finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_ || delivered_) return;
      delivered_ = true;
      finished = std::move(ticket_);
    }
    on_done_(std::move(result));
  }

  Callback on_done_;

  std::mutex mu_;
  bool issuing_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool delivered_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::StatusOr<Result>> early_ ABSL_GUARDED_BY(mu_);
  Ticket ticket_ ABSL_GUARDED_BY(mu_);
};

// A SnapshotSession::ReadAsync (ReadRange, StreamRange).
using CancellableRangeRead = CancellableOperation<RangeRead, RangeReadTicket>;
// A ChunkCache::Lookup (GetChunk).
using CancellableChunkLookup = CancellableOperation<ChunkHandle, ChunkLookup>;

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CANCELLABLE_OPERATION_H_
