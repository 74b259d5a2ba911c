// FetchScheduler: a fixed pool of worker threads running upstream fetches, fed by two queues.
//
// Demand fetches (a reader is waiting) always run before prefetches (readahead, hinted sets);
// a queued prefetch that a reader starts waiting for is promoted to the demand queue. Both
// queues are bounded: Enqueue refuses with RESOURCE_EXHAUSTED rather than letting a burst of
// misses queue without limit. Upstream concurrency is the number of workers.
//
// The demand queue is shared fairly. Each demand fetch is charged to a FetchQueueKey (the
// client that asked, and the archive it read); every key has its own sub-queue, and workers
// take one fetch from each key in turn. A key may hold at most
//     max(1, max_queued_demand / (keys with queued fetches, counting itself, + 1))
// queued fetches, so one client's burst of misses is refused with RESOURCE_EXHAUSTED for that
// client once it holds its share, while the rest of the bound stays free for the misses of
// other clients and archives. (Alone, a key may fill half the bound.) A promotion is charged
// like an Enqueue: Promote refuses rather than push the demand queue over its bound or a key
// over its share.
//
// Readahead yields the upstream to random readers. A prefetch reads from one upstream (its
// `link`). Once a fetch is started, its bytes are on their way: an upstream that serves
// requests in order (one link, one HTTP/2 connection) makes a demand fetch that starts later
// wait behind every prefetch already running on it. So while a demand fetch of a random
// reader (FetchOwner::reader_waits: a guest's read, not a read that continues a sequential
// stream) is queued or running on a link, at most `under_demand` prefetches run on that link
// (default 0); a prefetch beyond that stays queued, and a worker takes another one (of another
// link) or the next demand fetch instead. Sequential readers never hold readahead back: their
// reads catch up with their own readahead, and holding it back would only slow them down.
//
// The yield outlasts the random reader's fetch by a window: `window_fetch_times` times the
// time the link's random fetches have been taking (a moving average, from start to done).
// A guest misses in bursts, one block at a time: its next miss comes a moment after the last
// one was served. Without the window the readahead that starts in that moment is on the link
// ahead of the next miss, which then waits behind it; with it, a guest's miss waits behind
// no readahead at all, only behind the fetches sequential readers wait for themselves (a
// restore's current chunk). Derived from the observed fetch time, the window follows the
// link: a few tens of milliseconds on a LAN, longer over a slow WAN link.
// After the window, the link's readahead depth starts again from max(under_demand, 1) and
// doubles with each fetch completed on it, back to the full depth (every worker). A restore
// alone is held back only by its first reads, which count as random until its stream is
// detected.
//
//   FetchScheduler scheduler(16, 1024, 256, ReadaheadYield{},
//                            [&](std::shared_ptr<PendingFetch> f) { Run(f); });
//   absl::Status queued = scheduler.Enqueue(
//       fetch, FetchPriority::kDemand,
//       FetchOwner{FetchQueueKey{client, source.get()}, upstream.get(), /*reader_waits=*/true});
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
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cache/chunk_lookup.h"
#include "cache/internal/pending_fetch.h"

namespace chunkcache::internal {

// Who a demand fetch is queued for: fetches with equal keys share one sub-queue and one share
// of the demand bound.
struct FetchQueueKey {
  uint64_t requester = 0;         // ChunkRequest::requester (the client, as the service says)
  const void* archive = nullptr;  // the request's ChunkSource: one per open archive

  friend bool operator==(const FetchQueueKey& a, const FetchQueueKey& b) {
    return a.requester == b.requester && a.archive == b.archive;
  }
  template <typename H>
  friend H AbslHashValue(H h, const FetchQueueKey& key) {
    return H::combine(std::move(h), key.requester, key.archive);
  }
};

// Whom a fetch is queued for, and where it reads.
struct FetchOwner {
  FetchQueueKey key;           // demand fetches: charged to its share of the queue
  const void* link = nullptr;  // the upstream the fetch reads (readahead is bounded per link)
  // A demand fetch that a random reader waits for (not a read continuing a sequential
  // stream): it holds readahead on `link` back until it is done.
  bool reader_waits = false;
};

// How readahead yields a link to random readers (see above).
struct ReadaheadYield {
  size_t under_demand = 0;  // prefetches running on a link while a random reader waits there
  // The window after a random reader's fetch, in multiples of the link's random fetch time;
  // 0: readahead grows back as soon as no random reader waits.
  double window_fetch_times = 1.0;
  // The clock of the window (tests substitute their own); empty: absl::Now.
  std::function<absl::Time()> clock;
};

class FetchScheduler {
 public:
  using RunFetch = absl::AnyInvocable<void(std::shared_ptr<PendingFetch>)>;

  FetchScheduler(int workers, size_t max_queued_demand, size_t max_queued_prefetch,
                 ReadaheadYield yield, RunFetch run);
  ~FetchScheduler();
  FetchScheduler(const FetchScheduler&) = delete;
  FetchScheduler& operator=(const FetchScheduler&) = delete;

  // Queues `fetch`; a demand fetch is charged to `owner.key`. Errors: RESOURCE_EXHAUSTED when
  // the queue is full or the key holds its share; UNAVAILABLE after Stop(). The caller queues
  // each fetch once.
  absl::Status Enqueue(std::shared_ptr<PendingFetch> fetch, FetchPriority priority,
                       const FetchOwner& owner = {});
  // Moves a still-queued prefetch into the demand queue, charged to `key`. OK when it was
  // moved or needs no move (already a demand fetch, running or done, or stopping);
  // RESOURCE_EXHAUSTED, leaving it a queued prefetch, when the demand queue is full or `key`
  // holds its share. With `reader_waits` (a random reader joins), the fetch, queued or running,
  // holds readahead on its link back from now until it is done.
  absl::Status Promote(const std::shared_ptr<PendingFetch>& fetch, const FetchQueueKey& key,
                       bool reader_waits);

  std::vector<std::shared_ptr<PendingFetch>> Stop();

  struct Counts {
    size_t running = 0;
    size_t running_prefetch = 0;  // part of `running` started as prefetches
    size_t queued_demand = 0;
    size_t queued_prefetch = 0;
    uint64_t prefetches_held_back = 0;  // times a queued prefetch was passed over (see above)
  };
  Counts counts() const;

 private:
  void WorkerLoop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next fetch to run: a demand fetch, else the first queued prefetch its link's readahead
  // bound lets start (null if none); with `any`, ignores the bound (Stop).
  std::shared_ptr<PendingFetch> PopLocked(bool any = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PrefetchMayStartLocked(const PendingFetch& fetch, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest end of a window that holds readahead back now (InfiniteFuture if none).
  absl::Time NextWindowEndLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const { return clock_ ? clock_() : absl::Now(); }
  void AddWaitingReaderLocked(PendingFetch& fetch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bookkeeping of a fetch a worker has run (or Stop returns).
  void FinishLocked(PendingFetch& fetch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK if one more demand fetch of `key` fits the bound and the key's share.
  absl::Status DemandRoomLocked(const FetchQueueKey& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushDemandLocked(std::shared_ptr<PendingFetch> fetch, const FetchQueueKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_demand_;
  const size_t max_queued_prefetch_;
  const size_t readahead_under_demand_;
  const double window_fetch_times_;
  const std::function<absl::Time()> clock_;
  const size_t full_readahead_depth_;  // the worker count
  RunFetch run_;

  mutable std::mutex mu_;
  std::condition_variable work_or_stop_;  // a job was queued, or stopping_ was set
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Demand sub-queues of the keys with queued fetches (a key leaves when its queue empties),
  // and those keys in the order of their next turn.
  absl::flat_hash_map<FetchQueueKey, std::deque<std::shared_ptr<PendingFetch>>> demand_
      ABSL_GUARDED_BY(mu_);
  std::deque<FetchQueueKey> demand_turns_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<PendingFetch>> prefetch_ ABSL_GUARDED_BY(mu_);
  size_t queued_demand_ ABSL_GUARDED_BY(mu_) = 0;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // One upstream's readahead state; a link leaves the map when it is back at rest (nothing
  // running or waiting, full depth).
  struct Link {
    size_t running_prefetch = 0;
    // Demand fetches random readers wait for (FetchOwner::reader_waits), queued or running.
    size_t waiting = 0;
    size_t depth = 0;  // prefetches that may run while no other reader waits
    // Readahead yields until then, after the latest random reader's fetch done on the link.
    absl::Time yield_until = absl::InfinitePast();
  };
  absl::flat_hash_map<const void*, Link> links_ ABSL_GUARDED_BY(mu_);
  // The moving average of the time random readers' fetches took on each link (from start to
  // done): the unit of the yield window. Kept while the link is at rest (one entry per
  // upstream).
  absl::flat_hash_map<const void*, absl::Duration> random_fetch_time_ ABSL_GUARDED_BY(mu_);
  // While prefetches_blocked_: the earliest end of a window that holds one back (workers
  // wake then), InfiniteFuture when only waiting readers hold them (a completion wakes them).
  absl::Time blocked_until_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  size_t running_prefetch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t prefetches_held_back_ ABSL_GUARDED_BY(mu_) = 0;
  // Every queued prefetch was found held back and nothing has changed since: workers sleep
  // instead of scanning the prefetch queue again.
  bool prefetches_blocked_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;  // written only by the constructor and Stop()
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_FETCH_SCHEDULER_H_
