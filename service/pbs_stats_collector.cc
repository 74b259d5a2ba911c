#include "service/pbs_stats_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace chunkcache {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One family: its name, help and how to read its value from a datastore's counters.
struct PbsMetric {
  const char* name;
  const char* help;
  MetricType type;
  double (*read)(const PbsUpstreamCounters&);
};

template <typename T>
double Load(const std::atomic<T>& value) {
  // Gauges go up and down from many threads; a scrape between the two never shows below 0.
  return static_cast<double>(std::max<T>(value.load(std::memory_order_relaxed), 0));
}

constexpr PbsMetric kMetrics[] = {
    {"chunkcache_pbs_connections_total",
     "TLS connections opened to the PBS server (reader sessions and API calls).",
     MetricType::Counter, [](const PbsUpstreamCounters& c) { return Load(c.connections); }},
    {"chunkcache_pbs_sessions_opened_total",
     "Reader sessions the PBS server accepted (101 to the upgrade).", MetricType::Counter,
     [](const PbsUpstreamCounters& c) { return Load(c.sessions_opened); }},
    {"chunkcache_pbs_reconnects_total",
     "Reader sessions reopened after losing their connection (reset, close, GOAWAY).",
     MetricType::Counter, [](const PbsUpstreamCounters& c) { return Load(c.reconnects); }},
    {"chunkcache_pbs_upgrade_failures_total",
     "Reader upgrades the PBS server answered with anything but 101.", MetricType::Counter,
     [](const PbsUpstreamCounters& c) { return Load(c.upgrade_failures); }},
    {"chunkcache_pbs_request_retries_total",
     "/download and /chunk requests sent again after a lost connection or stream.",
     MetricType::Counter, [](const PbsUpstreamCounters& c) { return Load(c.request_retries); }},
    {"chunkcache_pbs_logins_total", "Tickets obtained by password login.", MetricType::Counter,
     [](const PbsUpstreamCounters& c) { return Load(c.logins); }},
    {"chunkcache_pbs_body_bytes_in_place_total",
     "Response body bytes read from TLS straight into their body instead of copied there.",
     MetricType::Counter, [](const PbsUpstreamCounters& c) { return Load(c.body_bytes_in_place); }},
    {"chunkcache_pbs_streams_in_flight", "HTTP/2 requests open now on all reader connections.",
     MetricType::Gauge, [](const PbsUpstreamCounters& c) { return Load(c.streams_in_flight); }},
    {"chunkcache_pbs_sessions_open", "Reader sessions open now.", MetricType::Gauge,
     [](const PbsUpstreamCounters& c) { return Load(c.sessions_open); }},
};

}  // namespace

std::shared_ptr<PbsStatsCollector> PbsStatsCollector::ForCatalog(const DatastoreCatalog& catalog) {
  std::vector<Source> sources;
  for (const CatalogEntry& entry : catalog.entries()) {
    std::shared_ptr<const PbsUpstream> pbs =
        std::dynamic_pointer_cast<const PbsUpstream>(entry.ref.upstream);
    if (pbs != nullptr) sources.push_back({entry.ref.name, std::move(pbs)});
  }
  if (sources.empty()) return nullptr;
  return std::make_shared<PbsStatsCollector>(std::move(sources));
}

std::vector<MetricFamily> PbsStatsCollector::Collect() const {
  std::vector<MetricFamily> families;
  for (const PbsMetric& metric : kMetrics) {
    MetricFamily family;
    family.name = metric.name;
    family.help = metric.help;
    family.type = metric.type;
    for (const Source& source : sources_) {
      ClientMetric sample;
      sample.label = {{"datastore", source.datastore}};
      const double value = metric.read(source.upstream->counters());
      if (metric.type == MetricType::Counter) {
        sample.counter.value = value;
      } else {
        sample.gauge.value = value;
      }
      family.metric.push_back(std::move(sample));
    }
    families.push_back(std::move(family));
  }
  return families;
}

}  // namespace chunkcache
