#include "service/nbd_metrics.h"

#include <string>

#include "nbd/protocol.h"

namespace chunkcache {
namespace {

// Index of a label value in its fixed list (the last entry is "other").
template <size_t N>
size_t IndexOf(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return i;
  }
  return N - 1;
}

constexpr std::array<std::string_view, 9> kCommandNames = {
    "read", "write", "disc", "flush", "trim", "cache", "write_zeroes", "block_status", "other"};
constexpr std::array<std::string_view, 9> kResultNames = {
    "ok", "eperm", "eio", "enomem", "einval", "eoverflow", "enotsup", "eshutdown", "other"};

prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

}  // namespace

NbdMetrics::NbdMetrics(RequestMetrics* request_metrics)
    : request_metrics_(request_metrics),
      connections_family_(prometheus::BuildGauge()
                              .Name("chunkcache_nbd_connections")
                              .Help("Open NBD connections (handshaking or transmitting).")
                              .Register(*request_metrics->registry())),
      requests_(prometheus::BuildCounter()
                    .Name("chunkcache_nbd_requests_total")
                    .Help("NBD requests answered, by command and result (errno name or ok).")
                    .Register(*request_metrics->registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("chunkcache_nbd_request_duration_seconds")
                    .Help("Time from reading an NBD request to queueing its whole reply.")
                    .Register(*request_metrics->registry())),
      connections_(connections_family_.Add({})) {
  for (size_t i = 0; i < kCommands; ++i) {
    duration_by_command_[i] =
        &duration_.Add({{"command", std::string(kCommandNames[i])}}, DurationBuckets());
  }
  // Reads show up at 0 before the first one (dashboards query them).
  counters_[0][0] = &requests_.Add({{"command", "read"}, {"result", "ok"}});
}

void NbdMetrics::OnRequest(std::string_view command, std::string_view result,
                           absl::Duration duration) {
  const size_t c = IndexOf(kCommandNames, command);
  const size_t r = IndexOf(kResultNames, result);
  std::atomic<prometheus::Counter*>& slot = counters_[c][r];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &requests_.Add(
        {{"command", std::string(kCommandNames[c])}, {"result", std::string(kResultNames[r])}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  duration_by_command_[c]->Observe(absl::ToDoubleSeconds(duration));
}

}  // namespace chunkcache
