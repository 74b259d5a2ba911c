// FetchScheduler: a fixed pool of worker threads running upstream fetches, fed by two queues.
//
// Demand fetches (a reader is waiting) always run before prefetches (readahead, hinted sets);
// a queued prefetch that a reader starts waiting for is promoted to the demand queue. Both
// queues are bounded: Enqueue refuses with RESOURCE_EXHAUSTED rather than letting a burst of
// misses queue without limit. Upstream concurrency is the number of workers.
//
//   FetchScheduler scheduler(16, 1024, 256, [&](std::shared_ptr<PendingFetch> f) { Run(f); });
//   absl::Status queued = scheduler.Enqueue(fetch, FetchPriority::kDemand);
//   std::vector<std::shared_ptr<PendingFetch>> never_ran = scheduler.Stop();
//
// Thread-safe. Owns its threads; Stop() (or the destructor) joins them after their current
// job and returns the jobs that never ran, so the owner can fail their waiters.
#ifndef CHUNKCACHE_CACHE_INTERNAL_FETCH_SCHEDULER_H_
#define CHUNKCACHE_CACHE_INTERNAL_FETCH_SCHEDULER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "cache/chunk_lookup.h"
#include "cache/internal/pending_fetch.h"

namespace chunkcache::internal {

class FetchScheduler {
 public:
  using RunFetch = absl::AnyInvocable<void(std::shared_ptr<PendingFetch>)>;

  FetchScheduler(int workers, size_t max_queued_demand, size_t max_queued_prefetch, RunFetch run);
  ~FetchScheduler();
  FetchScheduler(const FetchScheduler&) = delete;
  FetchScheduler& operator=(const FetchScheduler&) = delete;

  // Queues `fetch`. RESOURCE_EXHAUSTED when that queue is full; UNAVAILABLE after Stop().
  absl::Status Enqueue(std::shared_ptr<PendingFetch> fetch, FetchPriority priority);
  // Moves a still-queued prefetch into the demand queue (no-op if it already started).
  void Promote(const std::shared_ptr<PendingFetch>& fetch);

  std::vector<std::shared_ptr<PendingFetch>> Stop();

  struct Counts {
    size_t running = 0;
    size_t queued_demand = 0;
    size_t queued_prefetch = 0;
  };
  Counts counts() const;

 private:
  void WorkerLoop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<PendingFetch> PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_demand_;
  const size_t max_queued_prefetch_;
  RunFetch run_;

  mutable std::mutex mu_;
  std::condition_variable work_or_stop_;  // a job was queued, or stopping_ was set
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A promoted prefetch sits in both deques; whichever copy is popped first runs it
  // (scheduler_taken), the other is skipped.
  std::deque<std::shared_ptr<PendingFetch>> demand_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<PendingFetch>> prefetch_ ABSL_GUARDED_BY(mu_);
  size_t queued_demand_ ABSL_GUARDED_BY(mu_) = 0;  // not yet taken, by current class
  size_t queued_prefetch_ ABSL_GUARDED_BY(mu_) = 0;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;  // written only by the constructor and Stop()
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_FETCH_SCHEDULER_H_
