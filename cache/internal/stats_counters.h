// StatsCounters: the cache's monotonic counters as relaxed atomics (they are only ever summed
// and read for metrics), plus per-datastore fetch counters, and the forwarding of each event
// to the optional CacheStatsObserver.
//
//   counters.CountLookup(LookupResult::kHit);
//   counters.CountFetch("store1", FetchResult::kOk, duration, raw_bytes);
//   counters.FillInto(stats);
//
// Thread-safe. Owned by the cache; the observer is not owned.
#ifndef CHUNKCACHE_CACHE_INTERNAL_STATS_COUNTERS_H_
#define CHUNKCACHE_CACHE_INTERNAL_STATS_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "cache/cache_stats.h"
#include "format/decode_error.h"

namespace chunkcache::internal {

class StatsCounters {
 public:
  explicit StatsCounters(CacheStatsObserver* observer) : observer_(observer) {}

  void CountLookup(LookupResult result);
  // Only tells the observer; the caller counts the lookup itself (the cache does it per shard).
  void NotifyLookup(LookupResult result) {
    if (observer_ != nullptr) observer_->OnLookup(result);
  }
  void CountFetch(std::string_view datastore, FetchResult result, absl::Duration duration,
                  uint64_t raw_bytes);
  void CountDecodeError(DecodeErrorReason reason);
  void CountEviction(uint64_t bytes);
  void CountPrefetchOutcome(bool used);

  std::atomic<uint64_t> fetches_rejected{0};
  std::atomic<uint64_t> prefetches_dropped{0};
  std::atomic<uint64_t> fills_without_room{0};
  std::atomic<uint64_t> fill_room_rechecks{0};
  std::atomic<uint64_t> fragmentation_evictions{0};
  std::atomic<uint64_t> persisted_loaded{0};
  std::atomic<uint64_t> persisted_verified{0};
  std::atomic<uint64_t> persisted_dropped{0};

  // Copies every counter into `stats` (gauges are the cache's job).
  void FillInto(CacheStats& stats) const;

 private:
  struct DatastoreCounters {
    std::atomic<uint64_t> ok{0};
    std::atomic<uint64_t> error{0};
    std::atomic<uint64_t> corrupt{0};
    std::atomic<uint64_t> raw_bytes{0};
  };

  CacheStatsObserver* const observer_;
  std::array<std::atomic<uint64_t>, 4> lookups_{};
  std::array<std::atomic<uint64_t>, kDecodeErrorReasonCount> decode_errors_{};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> prefetch_used_{0};
  std::atomic<uint64_t> prefetch_wasted_{0};

  mutable std::mutex datastores_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<DatastoreCounters>> datastores_
      ABSL_GUARDED_BY(datastores_mu_);
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_STATS_COUNTERS_H_
