// ManualClock: a clock that moves only when the test says, for time-based behaviour tested
// by counts (ChunkCacheOptions::clock).
//
//   ManualClock clock;
//   options.clock = clock.AsFunction();
//   clock.Advance(absl::Milliseconds(100));
//
// Thread-safe; must outlive whatever reads it.
#ifndef CHUNKCACHE_TESTS_TESTING_MANUAL_CLOCK_H_
#define CHUNKCACHE_TESTS_TESTING_MANUAL_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace chunkcache::testing {

class ManualClock {
 public:
  absl::Time Now() const {
    return absl::UnixEpoch() + absl::Nanoseconds(nanos_.load(std::memory_order_acquire));
  }
  void Advance(absl::Duration by) {
    nanos_.fetch_add(absl::ToInt64Nanoseconds(by), std::memory_order_acq_rel);
  }
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  // Far from the epoch, so that "never" (a default absl::Time) is in the past.
  std::atomic<int64_t> nanos_{int64_t{1'800'000'000} * 1'000'000'000};
};

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_TESTING_MANUAL_CLOCK_H_
