// CacheStatsCollector: a prometheus-cpp Collectable that reads ChunkCache::Stats() at every
// scrape and exposes the cache's counters and gauges under the names in DESIGN.md:
//
//   chunkcache_chunk_lookups_total{result=hit|hinted_hit|miss|coalesced}      counter
//   chunkcache_upstream_fetches_total{datastore,result=ok|error|corrupt}      counter
//   chunkcache_upstream_bytes_total{datastore}                               counter
//   chunkcache_evictions_total                                                counter
//   chunkcache_cache_bytes{kind=evictable|pinned}                             gauge
//   chunkcache_cache_capacity_bytes, chunkcache_cache_entries                 gauge
//   chunkcache_snapshots_open                                                 gauge
//   chunkcache_prefetch_chunks_total{result=used|wasted}                      counter
//   chunkcache_decode_errors_total{reason=crc|digest|decompress|decrypt|format} counter
//   chunkcache_pin_budget_bytes{budget=hinted|readahead,kind=reserved|max}    gauge
//   chunkcache_fills_waiting_for_room                                         gauge
//   chunkcache_fetches{state=running|queued,kind=demand|prefetch}            gauge
//   chunkcache_fetches_refused_total{kind=demand|prefetch}                    counter
//   chunkcache_prefetches_held_back_total                                     counter
//   chunkcache_reply_pinned_bytes, chunkcache_reply_pinned_max_bytes          gauge
//   chunkcache_reply_copied_bytes_total                                       counter
//   chunkcache_open_index_bytes, chunkcache_open_index_max_bytes              gauge
//
// Every label value that can occur is present from the first scrape (at 0), including every
// configured datastore, so dashboards and rate() have data before the first miss.
//
//   auto collector = std::make_shared<CacheStatsCollector>(cache.get(), {"store1"});
//   exposer.RegisterCollectable(collector);   // keeps a weak_ptr: drop the collector first
//
// The cache must outlive the collector. Thread-safe (Stats() is).
#ifndef CHUNKCACHE_SERVICE_CACHE_STATS_COLLECTOR_H_
#define CHUNKCACHE_SERVICE_CACHE_STATS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

#include "cache/cache_stats.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "service/reply_pin_budget.h"

namespace chunkcache {

class CacheStatsCollector final : public prometheus::Collectable {
 public:
  // `reply_budget` (optional) adds the reply pin metrics, `sessions` (optional, must outlive
  // the collector) the heap its open archives' indexes take.
  CacheStatsCollector(const ChunkCache* cache, std::vector<std::string> datastores,
                      std::shared_ptr<const ReplyPinBudget> reply_budget = nullptr,
                      const SessionRegistry* sessions = nullptr)
      : cache_(cache),
        datastores_(std::move(datastores)),
        reply_budget_(std::move(reply_budget)),
        sessions_(sessions) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

  // The families for one Stats() snapshot (what Collect returns; for tests).
  static std::vector<prometheus::MetricFamily> FamiliesOf(
      const CacheStats& stats, const std::vector<std::string>& datastores);

 private:
  const ChunkCache* const cache_;
  const std::vector<std::string> datastores_;
  const std::shared_ptr<const ReplyPinBudget> reply_budget_;
  const SessionRegistry* const sessions_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CACHE_STATS_COLLECTOR_H_
