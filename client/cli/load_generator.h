// The load generator behind `chunkcache bench`: `concurrency` threads, each issuing one
// request after another (ReadRange, or StreamRange of the same size) at archive offsets chosen
// randomly or sequentially, until the duration has passed or max_requests were started. It
// stops by itself: a request may run past the end of the duration by at most the client's
// per-call deadline. Latencies of successful requests go into a histogram; failures are
// counted by status code (the client should have retries off, so each failure is seen).
//
//   LoadOptions options{.ref = ref, .concurrency = 16, .request_size = 64 << 10};
//   absl::StatusOr<LoadReport> report = RunLoad(*client, options);
//   report->latency.Percentile(0.99);
#ifndef CHUNKCACHE_CLIENT_CLI_LOAD_GENERATOR_H_
#define CHUNKCACHE_CLIENT_CLI_LOAD_GENERATOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "client/cli/latency_histogram.h"
#include "client/lib/chunkcache_client.h"

namespace chunkcache {

inline constexpr int kMaxBenchConcurrency = 64;

enum class AccessPattern { kRandom, kSequential };
enum class BenchRpc { kReadRange, kStreamRange };

struct LoadOptions {
  v1::SnapshotRef ref;
  int concurrency = 8;                // 1..kMaxBenchConcurrency
  uint64_t request_size = 64 * 1024;  // bytes per request
  AccessPattern pattern = AccessPattern::kRandom;
  BenchRpc rpc = BenchRpc::kReadRange;
  std::chrono::milliseconds duration{10000};
  uint64_t max_requests = 0;  // 0: no limit but the duration
  uint64_t seed = 1;          // random offsets are reproducible per seed
};

struct ErrorTally {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  uint64_t count = 0;
  std::string example;  // the first message seen with this code
};

struct LoadReport {
  uint64_t archive_size = 0;
  uint64_t requests_ok = 0;
  uint64_t requests_failed = 0;
  uint64_t bytes = 0;                        // received by successful requests
  double elapsed_seconds = 0;                // first request start to last request end
  LatencyHistogram latency;                  // successful requests only
  std::map<std::string, ErrorTally> errors;  // by status code name, e.g. "UNAVAILABLE"
};

// The offset of request number `sequence` (sequential) or drawn from `random_value` (random):
// always a multiple of request_size below archive_size. Exposed for tests.
uint64_t BenchOffset(AccessPattern pattern, uint64_t archive_size, uint64_t request_size,
                     uint64_t sequence, uint64_t random_value);

// INVALID_ARGUMENT for options out of range; the StatSnapshot error when the archive cannot be
// stat'ed; FAILED_PRECONDITION for an empty archive. Request failures are in the report.
absl::StatusOr<LoadReport> RunLoad(ChunkCacheClient& client, const LoadOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_LOAD_GENERATOR_H_
