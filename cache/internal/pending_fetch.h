// PendingFetch: one chunk being fetched (or a persisted entry being re-verified), and the
// lookups waiting for it.
//
// Miss coalescing: the first miss for a cache key creates a PendingFetch and registers it in
// the key's shard; later lookups of the key join it as waiters. The fetch belongs to the
// cache, not to the first caller: it is held by the shard map, the scheduler queue and the
// worker running it, so a waiter that cancels or goes away changes nothing for the others.
// The worker removes it from the shard map in the fetch's own completion, whatever the
// outcome, so errors are never cached and the next lookup fetches again.
//
// Lock order: CacheCore space mutex > shard mutex > PendingFetch::mu_. Callbacks are invoked
// with no lock held.
//
//   auto fetch = std::make_shared<PendingFetch>(request, PendingFetch::Kind::kFetch,
//                                               FetchPriority::kDemand, nullptr);
//   uint64_t id = fetch->AddWaiter(std::move(callback), request);   // under the shard mutex
//   ...                                                             // a worker fetches
//   for (ChunkCallback& waiter : fetch->TakeWaiters()) waiter(handle_or_error);
#ifndef CHUNKCACHE_CACHE_INTERNAL_PENDING_FETCH_H_
#define CHUNKCACHE_CACHE_INTERNAL_PENDING_FETCH_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "cache/chunk_lookup.h"
#include "cache/chunk_request.h"

namespace chunkcache::internal {

struct CacheEntry;

class PendingFetch {
 public:
  enum class Kind {
    kFetch,            // read from the upstream, decode into the arena
    kVerifyPersisted,  // re-check a reloaded entry; on failure, drop it and fetch instead
  };

  // `request.source` may be null only for kVerifyPersisted started by the background
  // verifier; the first waiter then supplies its request (needed if verification fails and
  // the chunk must be fetched).
  PendingFetch(ChunkRequest request, Kind kind, FetchPriority origin, CacheEntry* persisted)
      : cache_key_(request.cache_key),
        kind_(kind),
        origin_(origin),
        persisted_(persisted),
        demand_wanted_(origin == FetchPriority::kDemand),
        request_(std::move(request)) {}

  const ChunkDigest& cache_key() const { return cache_key_; }
  ChunkRequest request() const;
  Kind kind() const { return kind_; }
  // The persisted entry being verified (pinned by this fetch), kVerifyPersisted only.
  CacheEntry* persisted() const { return persisted_; }
  // Switches a failed verification to a normal fetch (the entry was dropped).
  void BecomeFetch() {
    kind_ = Kind::kFetch;
    persisted_ = nullptr;
  }
  // Whether a demand reader started or joined this fetch (decides the policy's InsertKind
  // and the prefetch used/wasted accounting).
  FetchPriority origin() const { return origin_; }
  bool demand_wanted() const { return demand_wanted_.load(std::memory_order_acquire); }
  // True the first time a demand waiter joins a prefetch (the caller then promotes it).
  bool MarkDemandWanted() { return !demand_wanted_.exchange(true, std::memory_order_acq_rel); }
  // A stream read (ChunkRequest::stream_read) waits for this prefetch: it is promoted like a
  // demand fetch (true the first time) but still enters the policy as a prefetch, used.
  bool MarkStreamWanted() { return !stream_wanted_.exchange(true, std::memory_order_acq_rel); }
  bool stream_wanted() const { return stream_wanted_.load(std::memory_order_acquire); }
  // A demand fetch started by a stream the policy knows (ChunkCache::OpenStream): queued as
  // demand, but it enters the policy as the stream's, a used prefetch, not as a reader's use.
  // Called before the fetch is shared.
  void MarkStreamOrigin() {
    demand_wanted_.store(false, std::memory_order_relaxed);
    stream_wanted_.store(true, std::memory_order_relaxed);
  }

  // Registers a waiter; returns its id for RemoveWaiter. Called under the shard mutex while
  // the fetch is still in the shard map, so the fetch has not completed. `request` fills in
  // a missing source.
  uint64_t AddWaiter(ChunkCallback callback, const ChunkRequest& request);
  // True if the waiter was still registered (its callback will now never run).
  bool RemoveWaiter(uint64_t waiter_id);
  // Marks the fetch completed and hands over every registered callback.
  std::vector<ChunkCallback> TakeWaiters();
  size_t waiter_count() const;

  // Scheduler bookkeeping, guarded by the scheduler's mutex: which queue holds the fetch,
  // or kTaken once a worker took it (or Stop returned it).
  enum class QueueState { kNotQueued, kDemand, kPrefetch, kTaken };
  QueueState queue_state = QueueState::kNotQueued;
  absl::Time enqueued_at;
  absl::Time started_at;  // when a worker took it (the scheduler's clock)
  // The upstream the fetch reads (readahead is bounded per upstream). `presses` once a random
  // reader waits for it: it then holds readahead on `link` back until it is done.
  // `runs_as_prefetch` while a worker runs it as a prefetch (counted against that bound).
  const void* link = nullptr;
  bool presses = false;
  bool runs_as_prefetch = false;

 private:
  const ChunkDigest cache_key_;
  Kind kind_;  // changed only by the worker that runs the fetch
  const FetchPriority origin_;
  CacheEntry* persisted_;
  std::atomic<bool> demand_wanted_;
  std::atomic<bool> stream_wanted_{false};

  // std::mutex rather than absl::Mutex here and throughout cache/: the distribution's Abseil
  // is not built for ThreadSanitizer, which then cannot see absl::Mutex's ordering.
  mutable std::mutex mu_;
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool completed_ ABSL_GUARDED_BY(mu_) = false;
  ChunkRequest request_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, ChunkCallback>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_PENDING_FETCH_H_
