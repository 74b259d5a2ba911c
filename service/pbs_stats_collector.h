// PbsStatsCollector: a prometheus-cpp Collectable that reads the counters of every `pbs`
// datastore's upstream (PbsUpstreamCounters) at each scrape, with the datastore as the only
// label (bounded by the config):
//
//   chunkcache_pbs_connections_total{datastore}       counter  TLS connections opened
//   chunkcache_pbs_sessions_opened_total{datastore}   counter  reader sessions accepted (101)
//   chunkcache_pbs_reconnects_total{datastore}        counter  sessions reopened after a loss
//   chunkcache_pbs_upgrade_failures_total{datastore}  counter  upgrades answered without 101
//   chunkcache_pbs_request_retries_total{datastore}   counter  /download and /chunk sent again
//   chunkcache_pbs_logins_total{datastore}            counter  tickets obtained (password login)
//   chunkcache_pbs_body_bytes_in_place_total{datastore}  counter  body bytes read in place
//   chunkcache_pbs_streams_in_flight{datastore}       gauge    HTTP/2 requests open now
//   chunkcache_pbs_sessions_open{datastore}           gauge    reader sessions open now
//
//   std::shared_ptr<PbsStatsCollector> collector = PbsStatsCollector::ForCatalog(*catalog);
//   if (collector != nullptr) exposer.RegisterCollectable(collector);  // null: no pbs datastore
//
// Holds the upstreams it reads (shared), so it may outlive the catalog. Thread-safe (the
// counters are atomics).
#ifndef CHUNKCACHE_SERVICE_PBS_STATS_COLLECTOR_H_
#define CHUNKCACHE_SERVICE_PBS_STATS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "service/datastore_catalog.h"
#include "upstream/pbs/pbs_upstream.h"

namespace chunkcache {

class PbsStatsCollector final : public prometheus::Collectable {
 public:
  struct Source {
    std::string datastore;
    std::shared_ptr<const PbsUpstream> upstream;
  };

  // A collector for the catalog's pbs datastores; null when it has none.
  static std::shared_ptr<PbsStatsCollector> ForCatalog(const DatastoreCatalog& catalog);

  explicit PbsStatsCollector(std::vector<Source> sources) : sources_(std::move(sources)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<Source> sources_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_PBS_STATS_COLLECTOR_H_
