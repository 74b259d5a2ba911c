// How `chunkcache bench` prints a LoadReport: a few aligned lines for people, or one JSON
// object (--json) for scripts and bench/RESULTS.md.
//
//   requests    48213 ok, 0 failed in 10.00 s (4821.3 req/s)
//   throughput  316.0 MB/s (301.3 MiB/s)
//   latency     p50 1.62 ms  p90 2.41 ms  p99 4.87 ms  max 19.30 ms
//   errors      none
#ifndef CHUNKCACHE_CLIENT_CLI_BENCH_REPORT_H_
#define CHUNKCACHE_CLIENT_CLI_BENCH_REPORT_H_

#include <chrono>
#include <string>

#include "client/cli/load_generator.h"

namespace chunkcache {

// "0.512 ms", "12.30 ms", "1.204 s"
std::string FormatLatency(std::chrono::nanoseconds latency);

std::string FormatBenchReportText(const LoadReport& report);

// {"requests_ok":…, "requests_failed":…, "elapsed_seconds":…, "rps":…, "mb_per_s":…,
//  "bytes":…, "latency_ms":{"p50":…,"p90":…,"p99":…,"max":…,"mean":…},
//  "errors":{"UNAVAILABLE":{"count":…,"example":"…"}}}
std::string FormatBenchReportJson(const LoadReport& report);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_BENCH_REPORT_H_
