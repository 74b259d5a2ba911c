#include "service/cache_stats_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <utility>

#include "format/decode_error.h"

namespace chunkcache {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(MetricFamily& family, Labels labels, uint64_t value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = static_cast<double>(value);
  } else {
    metric.gauge.value = static_cast<double>(value);
  }
  family.metric.push_back(std::move(metric));
}

const DatastoreFetchCounts* FindFetches(const CacheStats& stats, const std::string& datastore) {
  for (const DatastoreFetchCounts& counts : stats.fetches) {
    if (counts.datastore == datastore) return &counts;
  }
  return nullptr;
}

}  // namespace

std::vector<MetricFamily> CacheStatsCollector::Collect() const {
  std::vector<MetricFamily> families = FamiliesOf(cache_->Stats(), datastores_);
  if (reply_budget_ != nullptr) {
    MetricFamily pinned = Family(
        "chunkcache_reply_pinned_bytes",
        "Cache bytes pinned by zero-copy replies that gRPC has not sent yet.", MetricType::Gauge);
    AddSample(pinned, {}, reply_budget_->pinned_bytes());
    families.push_back(std::move(pinned));
    MetricFamily max =
        Family("chunkcache_reply_pinned_max_bytes",
               "Cap of chunkcache_reply_pinned_bytes (max_reply_pinned_bytes).", MetricType::Gauge);
    AddSample(max, {}, reply_budget_->max_total_bytes());
    families.push_back(std::move(max));
    MetricFamily copied = Family(
        "chunkcache_reply_copied_bytes_total",
        "Reply bytes copied instead of pinned because their connection's share or the total was "
        "spent.",
        MetricType::Counter);
    AddSample(copied, {}, reply_budget_->copied_bytes());
    families.push_back(std::move(copied));
  }
  if (sessions_ != nullptr) {
    MetricFamily open =
        Family("chunkcache_open_index_bytes",
               "Heap taken by the indexes of the open snapshot archives.", MetricType::Gauge);
    AddSample(open, {}, sessions_->open_index_bytes());
    families.push_back(std::move(open));
    MetricFamily max = Family(
        "chunkcache_open_index_max_bytes",
        "Cap of chunkcache_open_index_bytes (sessions.max_open_index_bytes): opening past it "
        "closes the least recently used idle archives.",
        MetricType::Gauge);
    AddSample(max, {}, sessions_->max_open_index_bytes());
    families.push_back(std::move(max));
  }
  return families;
}

std::vector<MetricFamily> CacheStatsCollector::FamiliesOf(
    const CacheStats& stats, const std::vector<std::string>& datastores) {
  std::vector<MetricFamily> families;

  MetricFamily lookups =
      Family("chunkcache_chunk_lookups_total",
             "Chunk lookups by readers, by how they were answered.", MetricType::Counter);
  AddSample(lookups, {{"result", std::string(LookupResultName(LookupResult::kHit))}},
            stats.lookups.hit);
  AddSample(lookups, {{"result", std::string(LookupResultName(LookupResult::kHintedHit))}},
            stats.lookups.hinted_hit);
  AddSample(lookups, {{"result", std::string(LookupResultName(LookupResult::kMiss))}},
            stats.lookups.miss);
  AddSample(lookups, {{"result", std::string(LookupResultName(LookupResult::kCoalesced))}},
            stats.lookups.coalesced);
  families.push_back(std::move(lookups));

  MetricFamily fetches =
      Family("chunkcache_upstream_fetches_total",
             "Chunk fetches from upstream datastores, by outcome.", MetricType::Counter);
  MetricFamily upstream_bytes =
      Family("chunkcache_upstream_bytes_total",
             "Raw chunk blob bytes read from upstream datastores.", MetricType::Counter);
  for (const std::string& datastore : datastores) {
    const DatastoreFetchCounts* counts = FindFetches(stats, datastore);
    const DatastoreFetchCounts zero;
    const DatastoreFetchCounts& c = counts != nullptr ? *counts : zero;
    const std::pair<FetchResult, uint64_t> outcomes[] = {{FetchResult::kOk, c.ok},
                                                         {FetchResult::kError, c.error},
                                                         {FetchResult::kCorrupt, c.corrupt}};
    for (const auto& [result, value] : outcomes) {
      AddSample(fetches,
                {{"datastore", datastore}, {"result", std::string(FetchResultName(result))}},
                value);
    }
    AddSample(upstream_bytes, {{"datastore", datastore}}, c.raw_bytes);
  }
  families.push_back(std::move(fetches));
  families.push_back(std::move(upstream_bytes));

  MetricFamily evictions =
      Family("chunkcache_evictions_total", "Chunks evicted to make room.", MetricType::Counter);
  AddSample(evictions, {}, stats.evictions);
  families.push_back(std::move(evictions));

  MetricFamily cache_bytes = Family(
      "chunkcache_cache_bytes",
      "Decoded chunk bytes in the cache: evictable now, or pinned by readers and hinted sets.",
      MetricType::Gauge);
  AddSample(cache_bytes, {{"kind", "evictable"}}, stats.evictable_bytes);
  AddSample(cache_bytes, {{"kind", "pinned"}}, stats.pinned_bytes);
  families.push_back(std::move(cache_bytes));

  MetricFamily capacity = Family("chunkcache_cache_capacity_bytes",
                                 "Configured capacity of the cache arena.", MetricType::Gauge);
  AddSample(capacity, {}, stats.capacity_bytes);
  families.push_back(std::move(capacity));

  MetricFamily entries =
      Family("chunkcache_cache_entries", "Chunks in the cache.", MetricType::Gauge);
  AddSample(entries, {}, stats.entries);
  families.push_back(std::move(entries));

  MetricFamily sessions =
      Family("chunkcache_snapshots_open", "Snapshot archives open (sessions).", MetricType::Gauge);
  AddSample(sessions, {}, stats.sessions_open);
  families.push_back(std::move(sessions));

  MetricFamily streams = Family("chunkcache_policy_streams",
                                "Readers registered with the index policy as streams (StreamRange "
                                "calls, sequential readers); 0 with other policies.",
                                MetricType::Gauge);
  AddSample(streams, {}, stats.policy_streams);
  families.push_back(std::move(streams));

  MetricFamily budgets = Family(
      "chunkcache_pin_budget_bytes",
      "Cache-wide budgets of long-held pins (hinted sets, readahead): bytes reserved and the cap.",
      MetricType::Gauge);
  AddSample(budgets, {{"budget", "hinted"}, {"kind", "reserved"}}, stats.hinted_reserved_bytes);
  AddSample(budgets, {{"budget", "hinted"}, {"kind", "max"}}, stats.max_hinted_bytes);
  AddSample(budgets, {{"budget", "readahead"}, {"kind", "reserved"}}, stats.readahead_pinned_bytes);
  AddSample(budgets, {{"budget", "readahead"}, {"kind", "max"}}, stats.max_readahead_pinned_bytes);
  families.push_back(std::move(budgets));

  MetricFamily queue = Family(
      "chunkcache_fetches",
      "Upstream chunk fetches running or queued now, for readers (demand) or readahead (prefetch).",
      MetricType::Gauge);
  AddSample(
      queue, {{"state", "running"}, {"kind", "demand"}},
      stats.fetches_running - std::min(stats.fetches_running, stats.fetches_running_prefetch));
  AddSample(queue, {{"state", "running"}, {"kind", "prefetch"}}, stats.fetches_running_prefetch);
  AddSample(queue, {{"state", "queued"}, {"kind", "demand"}}, stats.fetches_queued_demand);
  AddSample(queue, {{"state", "queued"}, {"kind", "prefetch"}}, stats.fetches_queued_prefetch);
  families.push_back(std::move(queue));

  MetricFamily refused = Family(
      "chunkcache_fetches_refused_total",
      "Fetches not queued because the queue or the client's share of it was full: demand misses "
      "answered RESOURCE_EXHAUSTED, prefetches dropped.",
      MetricType::Counter);
  AddSample(refused, {{"kind", "demand"}}, stats.fetches_rejected);
  AddSample(refused, {{"kind", "prefetch"}}, stats.prefetches_dropped);
  families.push_back(std::move(refused));

  MetricFamily held_back = Family(
      "chunkcache_prefetches_held_back_total",
      "Times queued readahead was left waiting because a random reader's fetch waited on its "
      "upstream, or had within the window after it (cache.max_readahead_fetches_under_demand, "
      "cache.readahead_yield_window_fetch_times).",
      MetricType::Counter);
  AddSample(held_back, {}, stats.prefetches_held_back);
  families.push_back(std::move(held_back));

  MetricFamily waiting =
      Family("chunkcache_fills_waiting_for_room",
             "Chunk fills waiting for pinned bytes to be released.", MetricType::Gauge);
  AddSample(waiting, {}, stats.fills_waiting_for_room);
  families.push_back(std::move(waiting));

  MetricFamily prefetch =
      Family("chunkcache_prefetch_chunks_total",
             "Prefetched chunks (readahead, Prefetch RPC) that a reader used, or that left unused.",
             MetricType::Counter);
  AddSample(prefetch, {{"result", "used"}}, stats.prefetch_used);
  AddSample(prefetch, {{"result", "wasted"}}, stats.prefetch_wasted);
  families.push_back(std::move(prefetch));

  MetricFamily decode_errors =
      Family("chunkcache_decode_errors_total", "Chunks that failed to decode or verify, by reason.",
             MetricType::Counter);
  for (size_t i = 0; i < kDecodeErrorReasonCount; ++i) {
    const auto reason = static_cast<DecodeErrorReason>(i);
    AddSample(decode_errors, {{"reason", std::string(DecodeErrorReasonName(reason))}},
              stats.decode_errors_for(reason));
  }
  families.push_back(std::move(decode_errors));
  return families;
}

}  // namespace chunkcache
