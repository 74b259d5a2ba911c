// ResultSlot: where an asynchronous callback leaves its one result for a thread that waits
// for it with a deadline (the synchronous forms of ChunkCache::Lookup and
// SnapshotSession::ReadAsync).
//
//   auto slot = std::make_shared<ResultSlot<absl::StatusOr<ChunkHandle>>>();
//   Start([slot](absl::StatusOr<ChunkHandle> r) { slot->Set(std::move(r)); });
//   if (!slot->WaitUntil(deadline)) { /* cancel, or Wait() if the callback is already due */ }
//   absl::StatusOr<ChunkHandle> result = slot->Take();
//
// Thread-safe. Shared by the waiter and the callback (the callback may outlive the wait).
#ifndef CHUNKCACHE_CACHE_INTERNAL_RESULT_SLOT_H_
#define CHUNKCACHE_CACHE_INTERNAL_RESULT_SLOT_H_

#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace chunkcache::internal {

template <typename T>
class ResultSlot {
 public:
  void Set(T value) {
    std::lock_guard<std::mutex> lock(mu_);
    value_.emplace(std::move(value));
    set_.notify_all();
  }

  // True once Set has been called; false if `deadline` passed first.
  bool WaitUntil(absl::Time deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    auto is_set = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return value_.has_value(); };
    if (deadline == absl::InfiniteFuture()) {
      set_.wait(lock, is_set);
      return true;
    }
    return set_.wait_until(lock, absl::ToChronoTime(deadline), is_set);
  }
  void Wait() { WaitUntil(absl::InfiniteFuture()); }

  // The value; only after a successful wait.
  T Take() {
    std::lock_guard<std::mutex> lock(mu_);
    T value = std::move(*value_);
    value_.reset();
    return value;
  }

 private:
  std::mutex mu_;
  std::condition_variable set_;
  std::optional<T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_RESULT_SLOT_H_
