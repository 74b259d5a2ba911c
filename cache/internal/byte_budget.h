// ByteBudget: a cache-wide cap on bytes that callers reserve and release (hinted sets, readahead
// pins), kept in one atomic so that reserving never takes a lock.
//
//   ByteBudget budget(capacity / 4);
//   uint64_t granted = budget.ReserveUpTo(wanted);   // possibly fewer, or 0
//   if (budget.TryReserve(chunk_bytes)) { ... budget.Release(chunk_bytes); }
//   budget.Release(granted);
//
// Thread-safe.
#ifndef CHUNKCACHE_CACHE_INTERNAL_BYTE_BUDGET_H_
#define CHUNKCACHE_CACHE_INTERNAL_BYTE_BUDGET_H_

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace chunkcache::internal {

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Reserves as many of `bytes` as fit; returns how many.
  uint64_t ReserveUpTo(uint64_t bytes) {
    uint64_t reserved = reserved_.load(std::memory_order_relaxed);
    while (true) {
      const uint64_t room = reserved >= max_bytes_ ? 0 : max_bytes_ - reserved;
      const uint64_t granted = std::min(bytes, room);
      if (granted == 0) return 0;
      if (reserved_.compare_exchange_weak(reserved, reserved + granted,
                                          std::memory_order_relaxed)) {
        return granted;
      }
    }
  }

  // Reserves all of `bytes`, or nothing.
  bool TryReserve(uint64_t bytes) {
    uint64_t reserved = reserved_.load(std::memory_order_relaxed);
    while (true) {
      if (reserved > max_bytes_ || bytes > max_bytes_ - reserved) return false;
      if (reserved_.compare_exchange_weak(reserved, reserved + bytes, std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  void Release(uint64_t bytes) { reserved_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
  uint64_t max_bytes() const { return max_bytes_; }

 private:
  const uint64_t max_bytes_;
  std::atomic<uint64_t> reserved_{0};
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_BYTE_BUDGET_H_
