// BlockingPool: a bounded pool of worker threads for the blocking upstream work of ChunkCache
// calls — opening an archive (reading and checking its manifest and index), reading a snapshot
// file, listing snapshots — so that a slow upstream never holds one of gRPC's few callback
// threads. The calls hand their work over and finish from the worker (archive_opener.h,
// upstream_call.h); a call whose archive is already open comes here only for work that grows
// with its index (StatSnapshot's cached_bytes of a big archive).
//
//   BlockingPool pool(/*threads=*/8, /*max_queued=*/256);
//   auto operation = std::make_shared<CancellableOperation<T, BlockingTicket<T>>>(on_result);
//   operation->Start([&](auto callback) { return pool.Submit<T>(std::move(work), callback); });
//   ...
//   pool.Shutdown();  // after the server stopped: drops queued work, waits for running work
//
// Work waits in a FIFO queue of at most `max_queued` items; Submit refuses more at once with
// RESOURCE_EXHAUSTED (the ticket is ready with it), never queueing without bound. Work whose
// ticket was cancelled before a worker took it is skipped. Shutdown answers the work still
// queued UNAVAILABLE without running it and waits for the running work, which cannot be
// interrupted (an upstream read ends by itself: GrpcUpstream has a deadline per call).
//
// Thread-safe.
#ifndef CHUNKCACHE_SERVICE_BLOCKING_POOL_H_
#define CHUNKCACHE_SERVICE_BLOCKING_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chunkcache {

// The handle of one piece of work in a BlockingPool, as CancellableOperation wants it
// (cancellable_operation.h): ready() when Submit answered at once (a full queue, a pool that
// is shutting down), Cancel() to skip the work if no worker has taken it yet.
template <typename Result>
class BlockingTicket {
 public:
  BlockingTicket() = default;

  bool ready() const { return result_.has_value(); }
  absl::StatusOr<Result> TakeResult() {
    absl::StatusOr<Result> result = *std::move(result_);
    result_.reset();
    return result;
  }
  void Cancel() {
    if (cancelled_ != nullptr) cancelled_->store(true, std::memory_order_relaxed);
  }

 private:
  friend class BlockingPool;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  std::optional<absl::StatusOr<Result>> result_;
};

class BlockingPool {
 public:
  // At least one thread; `max_queued` items may wait for one.
  BlockingPool(size_t threads, size_t max_queued);
  ~BlockingPool() { Shutdown(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `work` on a worker and hands its result to `on_result` there. A full queue or a pool
  // that is shutting down answers at once through the ticket (ready(); `on_result` is dropped
  // without being called).
  template <typename Result>
  BlockingTicket<Result> Submit(absl::AnyInvocable<absl::StatusOr<Result>()> work,
                                absl::AnyInvocable<void(absl::StatusOr<Result>)> on_result) {
    BlockingTicket<Result> ticket;
    ticket.cancelled_ = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> cancelled = ticket.cancelled_;
    absl::Status queued = Enqueue(
        [cancelled, work = std::move(work), on_result = std::move(on_result)](bool run) mutable {
          if (!run) {
            on_result(absl::UnavailableError("the server is shutting down"));
          } else if (cancelled->load(std::memory_order_relaxed)) {
            // Nobody waits for the result any more: skip the upstream work.
            on_result(absl::CancelledError("cancelled before it started"));
          } else {
            on_result(work());
          }
        });
    if (!queued.ok()) ticket.result_.emplace(std::move(queued));
    return ticket;
  }

  // Stops taking work, answers the queued work UNAVAILABLE and waits for the running work.
  // Idempotent.
  void Shutdown();

  size_t threads() const { return workers_.size(); }
  size_t max_queued() const { return max_queued_; }

 private:
  // `run` false: the pool is shutting down and the work must only report that.
  using Job = absl::AnyInvocable<void(bool run)>;

  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once shutting down.
  absl::Status Enqueue(Job job);
  void WorkerLoop();

  const size_t max_queued_;

  std::mutex mu_;
  std::condition_variable changed_;  // a job was queued, or stopping_ was set
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  std::once_flag shut_down_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_BLOCKING_POOL_H_
