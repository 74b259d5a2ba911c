// What the cache counts, for the service's Prometheus metrics (DESIGN.md, "Metrics").
//
// Two ways out, use either or both:
//  * ChunkCache::Stats() returns a CacheStats snapshot: monotonic counters and current gauges,
//    cheap enough to read on every scrape (a prometheus-cpp Collectable can copy it).
//  * A CacheStatsObserver set in ChunkCacheOptions receives raw observations as they happen,
//    e.g. every upstream fetch duration for a histogram.
//
//   CacheStats s = cache->Stats();
//   double hit_ratio = double(s.lookups.hit) / double(s.lookups.total());
//
// Label values (LookupResultName, FetchResultName, DecodeErrorReasonName) match the metrics
// table. Plain values; copy freely.
#ifndef CHUNKCACHE_CACHE_CACHE_STATS_H_
#define CHUNKCACHE_CACHE_CACHE_STATS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "format/decode_error.h"

namespace chunkcache {

// How a demand lookup was answered.
enum class LookupResult {
  kHit,        // cached
  kHintedHit,  // cached and pinned by a session's hinted set
  kMiss,       // started an upstream fetch
  kCoalesced,  // joined a fetch already in flight
};
std::string_view LookupResultName(LookupResult result);  // "hit" | "hinted_hit" | ...

// How an upstream fetch ended.
enum class FetchResult {
  kOk,
  kError,    // the upstream failed (missing chunk, I/O error, timeout)
  kCorrupt,  // the blob failed to decode or verify (DATA_LOSS, never cached)
};
std::string_view FetchResultName(FetchResult result);  // "ok" | "error" | "corrupt"

inline constexpr size_t kDecodeErrorReasonCount = 5;  // DecodeErrorReason values

struct LookupCounts {
  uint64_t hit = 0;
  uint64_t hinted_hit = 0;
  uint64_t miss = 0;
  uint64_t coalesced = 0;
  uint64_t total() const { return hit + hinted_hit + miss + coalesced; }
};

struct DatastoreFetchCounts {
  std::string datastore;
  uint64_t ok = 0;
  uint64_t error = 0;
  uint64_t corrupt = 0;
  uint64_t raw_bytes = 0;  // blob bytes read from the upstream
};

// Space in the arena. reserved - used is internal fragmentation (page rounding); free space
// that is split into runs shorter than a chunk is external fragmentation, which shows up as
// largest_free_bytes < free_bytes and as fragmentation_evictions.
struct ArenaUsage {
  uint64_t capacity_bytes = 0;
  uint64_t reserved_bytes = 0;  // pages held by entries and fills in progress
  uint64_t used_bytes = 0;      // decoded chunk bytes in those pages
  uint64_t free_bytes = 0;
  uint64_t largest_free_bytes = 0;
  uint64_t free_extents = 0;
  uint64_t fragmentation_evictions = 0;  // entries evicted to merge free space into one run
  // reserved / used, 1.0 when empty.
  double reserved_per_used() const {
    return used_bytes == 0 ? 1.0 : double(reserved_bytes) / double(used_bytes);
  }
};

struct CacheStats {
  LookupCounts lookups;
  std::vector<DatastoreFetchCounts> fetches;  // one per datastore name seen
  uint64_t evictions = 0;
  // Gauges: bytes of cached entries that may be evicted now vs. held by handles or hints.
  uint64_t evictable_bytes = 0;
  uint64_t pinned_bytes = 0;
  uint64_t hinted_bytes = 0;  // part of pinned_bytes held by hinted sets
  uint64_t capacity_bytes = 0;
  uint64_t entries = 0;
  uint64_t sessions_open = 0;
  // Readers registered with the policy as streams now (policy `index`; 0 otherwise).
  uint64_t policy_streams = 0;
  uint64_t prefetch_used = 0;
  uint64_t prefetch_wasted = 0;
  std::array<uint64_t, kDecodeErrorReasonCount> decode_errors{};  // by DecodeErrorReason
  ArenaUsage arena;
  // The fetch queue.
  uint64_t fetches_running = 0;
  uint64_t fetches_running_prefetch = 0;  // part of fetches_running started as prefetches
  uint64_t fetches_queued_demand = 0;
  uint64_t fetches_queued_prefetch = 0;
  uint64_t fetches_rejected = 0;    // demand misses refused with RESOURCE_EXHAUSTED
  uint64_t prefetches_dropped = 0;  // prefetches not queued because the queue was full
  // Times a fetch worker left every queued prefetch queued because other readers' demand
  // fetches were waiting on its upstream (ChunkCacheOptions::max_readahead_fetches_under_demand).
  uint64_t prefetches_held_back = 0;
  uint64_t fills_without_room = 0;  // fills refused because everything was pinned
  // Fills waiting for room now, and how often such fills looked for it again: only when room
  // may have appeared (a chunk's last pin released, another fill done), never on a timer.
  uint64_t fills_waiting_for_room = 0;
  uint64_t fill_room_rechecks = 0;
  // The cache-wide budgets of session pins: reserved now, and the cap.
  uint64_t hinted_reserved_bytes = 0;
  uint64_t max_hinted_bytes = 0;
  uint64_t readahead_pinned_bytes = 0;
  uint64_t max_readahead_pinned_bytes = 0;
  // Persistence.
  uint64_t persisted_entries_loaded = 0;
  uint64_t persisted_entries_verified = 0;
  uint64_t persisted_entries_dropped = 0;  // torn, corrupt or not verifiable

  uint64_t decode_errors_for(DecodeErrorReason reason) const {
    return decode_errors[static_cast<size_t>(reason)];
  }
};

// Raw observations. Every method has an empty default; they are called on cache threads (and
// OnLookup on the caller's thread), must be thread-safe, fast and must not call back into the
// cache.
class CacheStatsObserver {
 public:
  virtual ~CacheStatsObserver() = default;
  virtual void OnLookup(LookupResult /*result*/) {}
  // `duration` covers the upstream read and the decode. `raw_bytes` is 0 when the read failed.
  virtual void OnUpstreamFetch(std::string_view /*datastore*/, FetchResult /*result*/,
                               absl::Duration /*duration*/, uint64_t /*raw_bytes*/) {}
  virtual void OnDecodeError(DecodeErrorReason /*reason*/) {}
  virtual void OnEviction(uint64_t /*bytes*/) {}
  virtual void OnPrefetchOutcome(bool /*used*/) {}
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CACHE_STATS_H_
