// CancellableRangeRead: one SnapshotSession::ReadAsync whose outcome reaches its callback
// exactly once, unless Cancel() wins the race; built for gRPC callback reactors, where
// OnCancel may arrive on one thread while the read completes on a cache thread.
//
//   auto read = std::make_shared<CancellableRangeRead>([this](absl::StatusOr<RangeRead> r) {
//     Finish(...);                        // runs inline in Start or on a cache thread
//   });
//   { absl::MutexLock lock(&mu_); read_ = read; }   // visible to OnCancel before Start
//   read->Start(*session, offset, length);          // the last thing that touches `this`
//   ...
//   void OnCancel() override { if (read_->Cancel()) Finish(cancelled); }
//
// Guarantees: the callback runs at most once, never while Start is still issuing the read on
// another thread (an early result is handed over and delivered by Start itself), and never
// after Cancel() returned true. Cancel() only detaches this read's waiters: the chunk fetches
// belong to the cache and keep going for other readers. Cancel before Start is allowed (Start
// then does nothing). Thread-safe; hold it by shared_ptr (the cache callback keeps it alive).
#ifndef CHUNKCACHE_SERVICE_CANCELLABLE_RANGE_READ_H_
#define CHUNKCACHE_SERVICE_CANCELLABLE_RANGE_READ_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cache/range_read.h"
#include "cache/snapshot_session.h"

namespace chunkcache {

class CancellableRangeRead : public std::enable_shared_from_this<CancellableRangeRead> {
 public:
  explicit CancellableRangeRead(RangeReadCallback on_done) : on_done_(std::move(on_done)) {}
  CancellableRangeRead(const CancellableRangeRead&) = delete;
  CancellableRangeRead& operator=(const CancellableRangeRead&) = delete;

  // Issues the read. Call once.
  void Start(SnapshotSession& session, uint64_t offset, uint64_t length);

  // True: the callback will never run (the caller now owns finishing the RPC). False: it has
  // run or is running.
  bool Cancel();

 private:
  void OnResult(absl::StatusOr<RangeRead> result);
  // Runs the callback unless cancelled; claims delivery under the lock.
  void Deliver(absl::StatusOr<RangeRead> result);

  RangeReadCallback on_done_;

  absl::Mutex mu_;
  bool issuing_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool delivered_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::StatusOr<RangeRead>> early_ ABSL_GUARDED_BY(mu_);
  RangeReadTicket ticket_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CANCELLABLE_RANGE_READ_H_
