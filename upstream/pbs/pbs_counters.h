// PbsUpstreamCounters: what a pbs upstream counts for metrics (the service exports them as
// chunkcache_pbs_* with the datastore as the only label). Plain atomics, so that upstream/
// stays free of prometheus.
//
//   const PbsUpstreamCounters& counters = pbs_upstream->counters();
//   uint64_t opened = counters.connections.load();
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_COUNTERS_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace chunkcache {

struct PbsUpstreamCounters {
  std::atomic<uint64_t> connections{0};       // TLS connections opened (API calls included)
  std::atomic<uint64_t> sessions_opened{0};   // reader sessions the server accepted (101)
  std::atomic<uint64_t> reconnects{0};        // sessions reopened after losing a connection
  std::atomic<uint64_t> upgrade_failures{0};  // upgrades answered with anything but 101
  std::atomic<uint64_t> request_retries{0};   // /download and /chunk requests sent again
  std::atomic<uint64_t> logins{0};            // tickets obtained (password login)
  // Response body bytes read from TLS straight into their body (DATA frame payloads larger
  // than one read), not copied there from the connection's read buffer.
  std::atomic<uint64_t> body_bytes_in_place{0};
  std::atomic<int64_t> streams_in_flight{0};  // HTTP/2 requests open on all connections
  std::atomic<int64_t> sessions_open{0};      // reader sessions open now
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_COUNTERS_H_
