// RoomSignal: tells fills waiting for room in the arena that room may have appeared, without
// a lock on the path that releases pins.
//
// Room appears when an entry's last pin goes (it becomes evictable), when a fill gives back or
// publishes its extent. Releasing a pin is the hit path's other half, so it must stay one
// atomic decrement: a release looks at waiting() (one load of a read-mostly counter) and takes
// the signal's mutex only while some fill waits.
//
// A waiting fill registers first, then reads generation(), then looks for room, and waits
// only while the generation is unchanged: a release that the look missed (it happened after
// the generation was read) has moved the generation on, so no wake-up is lost.
//
//   RoomSignal::Waiter waiter(signal);              // the fill is waiting from here on
//   for (;;) {
//     const uint64_t seen = signal.generation();
//     if (TryAllocate()) break;
//     if (!signal.WaitForChange(seen, give_up)) break;   // false: the deadline passed
//   }
//   ...
//   if (entry->pins.fetch_sub(1) == 1) signal.NotifyIfWaiting();   // a pin release
//
// Thread-safe.
#ifndef CHUNKCACHE_CACHE_INTERNAL_ROOM_SIGNAL_H_
#define CHUNKCACHE_CACHE_INTERNAL_ROOM_SIGNAL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace chunkcache::internal {

class RoomSignal {
 public:
  // Registers a waiting fill for its lifetime.
  class Waiter {
   public:
    explicit Waiter(RoomSignal& signal) : signal_(signal) {
      signal_.waiting_.fetch_add(1, std::memory_order_seq_cst);
      // Pairs with the release side's seq_cst decrement and load: either the release sees this
      // waiter, or the fill's look for room after this fence sees the released pin.
      // ThreadSanitizer supports no fences (GCC refuses them under -fsanitize=thread); there the
      // seq_cst increment above, a locked instruction and so a full barrier on x86, stands in.
#if !defined(__SANITIZE_THREAD__)
      std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    }
    ~Waiter() { signal_.waiting_.fetch_sub(1, std::memory_order_relaxed); }
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

   private:
    RoomSignal& signal_;
  };

  uint64_t generation() const {
    std::lock_guard<std::mutex> lock(mu_);
    return generation_;
  }

  // Waits until the generation differs from `seen` or `deadline` passes; true if it changed.
  bool WaitForChange(uint64_t seen, absl::Time deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_until(lock, absl::ToChronoTime(deadline),
                               [&]()
                                   ABSL_NO_THREAD_SAFETY_ANALYSIS { return generation_ != seen; });
  }

  // Room may have appeared: wakes every waiting fill.
  void Notify() const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    changed_.notify_all();
  }

  // The same, for a released pin: costs one load unless a fill is waiting.
  void NotifyIfWaiting() const {
    if (waiting_.load(std::memory_order_seq_cst) > 0) Notify();
  }

  // Fills waiting now (for stats and tests).
  int64_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

 private:
  // Mutable: handles notify through a const pointer; notifying changes no cached state.
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  mutable uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> waiting_{0};
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_ROOM_SIGNAL_H_
