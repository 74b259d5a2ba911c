// CancellableChunkLookup: one ChunkCache::Lookup whose outcome reaches its callback exactly
// once, unless Cancel() wins the race — the GetChunk counterpart of CancellableRangeRead, with
// the same guarantees: the callback runs at most once, never while Start is still issuing the
// lookup on another thread, and never after Cancel() returned true. Cancelling detaches only
// this waiter; the fetch belongs to the cache and keeps going.
//
//   auto lookup = std::make_shared<CancellableChunkLookup>([this](absl::StatusOr<ChunkHandle> c) {
//     Finish(...);                         // inline in Start, or on a cache thread
//   });
//   { std::lock_guard lock(mu_); lookup_ = lookup; }   // visible to OnCancel before Start
//   lookup->Start(*cache, request);                    // the last thing that touches `this`
//
// Thread-safe; hold it by shared_ptr (the cache callback keeps it alive).
#ifndef CHUNKCACHE_SERVICE_CANCELLABLE_CHUNK_LOOKUP_H_
#define CHUNKCACHE_SERVICE_CANCELLABLE_CHUNK_LOOKUP_H_

#include <memory>
#include <mutex>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "cache/chunk_cache.h"
#include "cache/chunk_handle.h"
#include "cache/chunk_lookup.h"
#include "cache/chunk_request.h"

namespace chunkcache {

class CancellableChunkLookup : public std::enable_shared_from_this<CancellableChunkLookup> {
 public:
  explicit CancellableChunkLookup(ChunkCallback on_done) : on_done_(std::move(on_done)) {}
  CancellableChunkLookup(const CancellableChunkLookup&) = delete;
  CancellableChunkLookup& operator=(const CancellableChunkLookup&) = delete;

  // Issues the lookup at demand priority. Call once.
  void Start(ChunkCache& cache, const ChunkRequest& request);

  // True: the callback will never run (the caller now owns finishing the RPC). False: it has
  // run or is running.
  bool Cancel();

 private:
  void OnResult(absl::StatusOr<ChunkHandle> result);
  void Deliver(absl::StatusOr<ChunkHandle> result);

  ChunkCallback on_done_;

  std::mutex mu_;
  bool issuing_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool delivered_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::StatusOr<ChunkHandle>> early_ ABSL_GUARDED_BY(mu_);
  ChunkLookup ticket_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CANCELLABLE_CHUNK_LOOKUP_H_
