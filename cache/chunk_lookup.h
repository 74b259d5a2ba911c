// ChunkLookup: the ticket of one asynchronous ChunkCache::Lookup.
//
// A lookup either finishes at once (a hit, or an immediate refusal such as
// RESOURCE_EXHAUSTED): ready() is true, TakeResult() gives the outcome and the callback is
// never invoked. Or it waits for a fetch: the callback runs exactly once, on a cache thread,
// unless Cancel() returns true first. Cancelling detaches only this waiter; the shared fetch
// keeps running for the others and its chunk is still cached.
//
//   ChunkLookup lookup = cache->Lookup(request, [](absl::StatusOr<ChunkHandle> chunk) {...});
//   if (lookup.ready()) Use(lookup.TakeResult());
//   ...
//   if (lookup.Cancel()) { /* the callback will not run; finish the RPC as cancelled */ }
//
// Move-only. Dropping the ticket does not cancel: the callback still runs.
#ifndef CHUNKCACHE_CACHE_CHUNK_LOOKUP_H_
#define CHUNKCACHE_CACHE_CHUNK_LOOKUP_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "cache/chunk_handle.h"

namespace chunkcache {

namespace internal {
class PendingFetch;
}  // namespace internal

// Demand fetches (a reader waits) always run before prefetches (readahead, hinted sets).
enum class FetchPriority { kDemand, kPrefetch };

// Invoked with the pinned chunk or the error: DATA_LOSS (failed to decode or verify; never
// cached), the upstream's error (NOT_FOUND, UNAVAILABLE...), RESOURCE_EXHAUSTED (no room: the
// cache is full of pinned chunks) or UNAVAILABLE (the cache is shutting down).
using ChunkCallback = absl::AnyInvocable<void(absl::StatusOr<ChunkHandle>)>;

class ChunkLookup {
 public:
  ChunkLookup() = default;
  ChunkLookup(ChunkLookup&&) noexcept = default;
  ChunkLookup& operator=(ChunkLookup&&) noexcept = default;
  ChunkLookup(const ChunkLookup&) = delete;
  ChunkLookup& operator=(const ChunkLookup&) = delete;

  // True when the lookup finished inside Lookup(); the callback will not run.
  bool ready() const { return result_.has_value(); }
  // The outcome of a ready lookup (once).
  absl::StatusOr<ChunkHandle> TakeResult();

  // Detaches this waiter from its fetch. True: the callback will never run. False: it has run
  // or is about to (or the lookup was ready).
  bool Cancel();

 private:
  friend class internal::CacheCore;
  static ChunkLookup Ready(absl::StatusOr<ChunkHandle> result);
  static ChunkLookup Waiting(std::shared_ptr<internal::PendingFetch> fetch, uint64_t waiter_id);

  std::optional<absl::StatusOr<ChunkHandle>> result_;
  std::shared_ptr<internal::PendingFetch> fetch_;
  uint64_t waiter_id_ = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CHUNK_LOOKUP_H_
