// RequestMetrics: the service's own Prometheus metrics, kept in a prometheus-cpp Registry, and
// the CacheStatsObserver that turns the cache's upstream fetch durations into a histogram.
// (The cache's counters and gauges are read from ChunkCache::Stats() at scrape time by
// CacheStatsCollector.)
//
//   chunkcache_requests_total{rpc,code}                   counter
//   chunkcache_request_duration_seconds{rpc}              histogram
//   chunkcache_read_bytes_total                           counter (bytes sent to clients)
//   chunkcache_upstream_fetch_duration_seconds{datastore} histogram
//
//   RequestMetrics metrics({"store1"});
//   exposer.RegisterCollectable(metrics.registry());
//   options.observer = &metrics;                                // before ChunkCache::Open
//   metrics.RecordRequest(Rpc::kReadRange, absl::StatusCode::kOk, absl::Milliseconds(3));
//
// Labels are bounded: rpc (7 values), code (17), datastore (configured names only; fetches of
// other names are not recorded). Thread-safe.
#ifndef CHUNKCACHE_SERVICE_REQUEST_METRICS_H_
#define CHUNKCACHE_SERVICE_REQUEST_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cache/cache_stats.h"

namespace chunkcache {

enum class Rpc {
  kReadRange,
  kStreamRange,
  kStatSnapshot,
  kPrefetch,
  kGetChunk,
  kGetSnapshotFile,
  kListSnapshots
};
inline constexpr size_t kRpcCount = 7;
std::string_view RpcName(Rpc rpc);  // "ReadRange", ...

class RequestMetrics final : public CacheStatsObserver {
 public:
  explicit RequestMetrics(const std::vector<std::string>& datastores);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void RecordRequest(Rpc rpc, absl::StatusCode code, absl::Duration duration);
  void AddReadBytes(uint64_t bytes);

  // CacheStatsObserver: called on cache threads.
  void OnUpstreamFetch(std::string_view datastore, FetchResult result, absl::Duration duration,
                       uint64_t raw_bytes) override;

 private:
  static constexpr size_t kCodeCount = 17;
  prometheus::Counter& RequestCounter(Rpc rpc, absl::StatusCode code);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& read_bytes_family_;
  prometheus::Family<prometheus::Histogram>& fetch_duration_;
  prometheus::Counter& read_bytes_;
  std::array<prometheus::Histogram*, kRpcCount> request_duration_by_rpc_{};
  // Created on first use; Family::Add is idempotent, so a race only repeats the lookup.
  std::array<std::array<std::atomic<prometheus::Counter*>, kCodeCount>, kRpcCount>
      requests_by_code_{};
  // Fixed at construction, then only read.
  absl::flat_hash_map<std::string, prometheus::Histogram*> fetch_duration_by_datastore_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_REQUEST_METRICS_H_
