// RangeReadOp: gathers the chunk lookups of one asynchronous range read into one result.
//
// The read's distinct chunks are looked up in parallel. Each lookup settles once (its
// callback ran, it was ready at once, or it was cancelled before its callback could run);
// the op finishes when all have settled plus the issuer's own count, so the callback sees
// every slice filled. The first error cancels the lookups still waiting, so a failed read
// finishes at once, without waiting for the others' fetches (which continue for the cache).
//
//   auto op = std::make_shared<RangeReadOp>(std::move(shape), std::move(slices_of_lookup),
//                                           std::move(on_done));
//   op->Issue(cache, requests);           // returns the result if everything was ready
//
// Thread-safe. Shared by the ticket and every lookup callback.
#ifndef CHUNKCACHE_CACHE_INTERNAL_RANGE_READ_OP_H_
#define CHUNKCACHE_CACHE_INTERNAL_RANGE_READ_OP_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "cache/chunk_cache.h"
#include "cache/range_read.h"

namespace chunkcache::internal {

class RangeReadOp : public std::enable_shared_from_this<RangeReadOp> {
 public:
  // `shape` has every slice's offsets set and no chunks; `slices_of_lookup[i]` lists the
  // slices that lookup i fills.
  RangeReadOp(RangeRead shape, std::vector<std::vector<size_t>> slices_of_lookup,
              RangeReadCallback on_done);

  // Starts one lookup per request (demand priority). Returns the outcome when it is known
  // before Issue returns (the callback then never runs); nullopt when the callback will.
  std::optional<absl::StatusOr<RangeRead>> Issue(ChunkCache& cache,
                                                 const std::vector<ChunkRequest>& requests);
  bool Cancel();

 private:
  void OnLookupDone(size_t index, absl::StatusOr<ChunkHandle> chunk);
  // Settles `count` lookups; true when this made the op complete.
  bool Settle(size_t count);
  absl::StatusOr<RangeRead> TakeOutcome();
  void CancelWaitingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::vector<size_t>> slices_of_lookup_;
  RangeReadCallback on_done_;
  std::atomic<size_t> unsettled_;
  std::atomic<bool> finished_{false};

  std::mutex mu_;
  RangeRead read_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  // Set by Cancel: lookups settling afterwards (their fetch had completed, so they could not
  // be detached) release their chunk instead of filling the cleared slices.
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ChunkLookup> lookups_ ABSL_GUARDED_BY(mu_);  // issued so far
  std::vector<bool> settled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_RANGE_READ_OP_H_
