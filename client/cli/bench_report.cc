#include "client/cli/bench_report.h"

#include "absl/strings/str_format.h"
#include "client/cli/progress_meter.h"
#include "nlohmann/json.hpp"

namespace chunkcache {
namespace {

double PerSecond(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0.0; }

double Milliseconds(std::chrono::nanoseconds latency) {
  return static_cast<double>(latency.count()) / 1e6;
}

}  // namespace

std::string FormatLatency(std::chrono::nanoseconds latency) {
  const double ms = Milliseconds(latency);
  if (ms >= 1000) return absl::StrFormat("%.3f s", ms / 1000);
  if (ms >= 10) return absl::StrFormat("%.2f ms", ms);
  return absl::StrFormat("%.3f ms", ms);
}

std::string FormatBenchReportText(const LoadReport& report) {
  const double seconds = report.elapsed_seconds;
  const double requests = static_cast<double>(report.requests_ok + report.requests_failed);
  const double bytes = static_cast<double>(report.bytes);
  std::string text = absl::StrFormat(
      "requests    %d ok, %d failed in %.2f s (%.1f req/s)\n"
      "throughput  %.1f MB/s (%s)\n",
      report.requests_ok, report.requests_failed, seconds, PerSecond(requests, seconds),
      PerSecond(bytes, seconds) / 1e6, FormatRate(PerSecond(bytes, seconds)));
  if (report.latency.count() > 0) {
    absl::StrAppendFormat(&text, "latency     p50 %s  p90 %s  p99 %s  max %s\n",
                          FormatLatency(report.latency.Percentile(0.50)),
                          FormatLatency(report.latency.Percentile(0.90)),
                          FormatLatency(report.latency.Percentile(0.99)),
                          FormatLatency(report.latency.max()));
  } else {
    text += "latency     no successful requests\n";
  }
  if (report.errors.empty()) {
    text += "errors      none\n";
  } else {
    for (const auto& [code, tally] : report.errors) {
      absl::StrAppendFormat(&text, "errors      %s %d (first: %s)\n", code, tally.count,
                            tally.example);
    }
  }
  return text;
}

std::string FormatBenchReportJson(const LoadReport& report) {
  const double seconds = report.elapsed_seconds;
  nlohmann::ordered_json json;
  json["archive_size"] = report.archive_size;
  json["requests_ok"] = report.requests_ok;
  json["requests_failed"] = report.requests_failed;
  json["bytes"] = report.bytes;
  json["elapsed_seconds"] = seconds;
  json["rps"] =
      PerSecond(static_cast<double>(report.requests_ok + report.requests_failed), seconds);
  json["mb_per_s"] = PerSecond(static_cast<double>(report.bytes), seconds) / 1e6;
  json["latency_ms"] = {
      {"p50", Milliseconds(report.latency.Percentile(0.50))},
      {"p90", Milliseconds(report.latency.Percentile(0.90))},
      {"p99", Milliseconds(report.latency.Percentile(0.99))},
      {"max", Milliseconds(report.latency.max())},
      {"mean", Milliseconds(report.latency.mean())},
  };
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [code, tally] : report.errors) {
    errors[code] = {{"count", tally.count}, {"example", tally.example}};
  }
  json["errors"] = std::move(errors);
  // Replace invalid UTF-8 in server messages instead of throwing.
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace chunkcache
