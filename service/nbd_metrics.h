// NbdMetrics: the NBD server's Prometheus metrics, in the service's registry beside the gRPC
// ones; NBD read bytes also count in chunkcache_read_bytes_total.
//
//   chunkcache_nbd_connections                          gauge
//   chunkcache_nbd_requests_total{command,result}       counter
//   chunkcache_nbd_request_duration_seconds{command}    histogram
//
//   NbdMetrics metrics(request_metrics);   // registers in request_metrics->registry()
//   NbdServer::Start(options, &exports, &metrics);
//
// Labels are bounded: command (9 values, nbd::CommandName), result (9, nbd::ResultName).
// Thread-safe; `request_metrics` must outlive it.
#ifndef CHUNKCACHE_SERVICE_NBD_METRICS_H_
#define CHUNKCACHE_SERVICE_NBD_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <string_view>

#include "nbd/nbd_observer.h"
#include "service/request_metrics.h"

namespace chunkcache {

class NbdMetrics final : public NbdObserver {
 public:
  explicit NbdMetrics(RequestMetrics* request_metrics);

  void OnConnectionOpened() override { connections_.Increment(); }
  void OnConnectionClosed() override { connections_.Decrement(); }
  void OnRequest(std::string_view command, std::string_view result,
                 absl::Duration duration) override;
  void OnReadBytes(uint64_t bytes) override { request_metrics_->AddReadBytes(bytes); }

 private:
  static constexpr size_t kCommands = 9;
  static constexpr size_t kResults = 9;

  RequestMetrics* const request_metrics_;
  prometheus::Family<prometheus::Gauge>& connections_family_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Gauge& connections_;
  std::array<prometheus::Histogram*, kCommands> duration_by_command_{};
  // Created on first use; Family::Add is idempotent, so a race only repeats the lookup.
  std::array<std::array<std::atomic<prometheus::Counter*>, kResults>, kCommands> counters_{};
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_NBD_METRICS_H_
