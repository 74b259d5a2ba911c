#include "client/cli/load_generator.h"

#include <atomic>
#include <random>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"

namespace chunkcache {
namespace {

using Clock = std::chrono::steady_clock;

// What one thread saw; merged after all threads ended, so no locking on the request path.
struct SlotResult {
  uint64_t requests_ok = 0;
  uint64_t requests_failed = 0;
  uint64_t bytes = 0;
  LatencyHistogram latency;
  std::map<std::string, ErrorTally> errors;
  Clock::time_point last_end;
};

}  // namespace

uint64_t BenchOffset(AccessPattern pattern, uint64_t archive_size, uint64_t request_size,
                     uint64_t sequence, uint64_t random_value) {
  if (archive_size == 0 || request_size == 0) return 0;
  const uint64_t slots = archive_size / request_size + (archive_size % request_size != 0 ? 1 : 0);
  const uint64_t slot =
      pattern == AccessPattern::kSequential ? sequence % slots : random_value % slots;
  return slot * request_size;
}

absl::StatusOr<LoadReport> RunLoad(ChunkCacheClient& client, const LoadOptions& options) {
  if (options.concurrency < 1 || options.concurrency > kMaxBenchConcurrency) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--concurrency must be in 1..%d", kMaxBenchConcurrency));
  }
  if (options.request_size == 0) {
    return absl::InvalidArgumentError("--request-size must be at least 1 byte");
  }
  if (options.duration.count() <= 0) {
    return absl::InvalidArgumentError("--duration must be positive");
  }
  absl::StatusOr<v1::SnapshotInfo> info = client.Stat(options.ref);
  if (!info.ok()) return info.status();
  LoadReport report;
  report.archive_size = info->size();
  if (report.archive_size == 0) {
    return absl::FailedPreconditionError("the archive is empty: there is nothing to read");
  }

  std::atomic<uint64_t> started{0};
  std::atomic<bool> stop{false};
  std::vector<SlotResult> results(static_cast<size_t>(options.concurrency));
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + options.duration;

  auto run_slot = [&](int slot) {
    SlotResult& result = results[static_cast<size_t>(slot)];
    std::mt19937_64 random(options.seed * 1000003 + static_cast<uint64_t>(slot));
    result.last_end = start;
    while (!stop.load() && Clock::now() < end) {
      const uint64_t sequence = started.fetch_add(1);
      if (options.max_requests != 0 && sequence >= options.max_requests) break;
      const uint64_t offset = BenchOffset(options.pattern, report.archive_size,
                                          options.request_size, sequence, random());
      const Clock::time_point request_start = Clock::now();
      absl::Status status;
      uint64_t received = 0;
      if (options.rpc == BenchRpc::kReadRange) {
        absl::StatusOr<v1::ReadRangeResponse> response =
            client.ReadRange(options.ref, offset, options.request_size);
        status = response.status();
        if (response.ok()) received = response->data().size();
      } else {
        absl::StatusOr<uint64_t> streamed =
            client.StreamTo(options.ref, offset, options.request_size,
                            [](uint64_t, std::string_view) { return absl::OkStatus(); });
        status = streamed.status();
        if (streamed.ok()) received = *streamed;
      }
      const Clock::time_point request_end = Clock::now();
      result.last_end = request_end;
      if (status.ok()) {
        ++result.requests_ok;
        result.bytes += received;
        result.latency.Record(request_end - request_start);
      } else {
        ++result.requests_failed;
        ErrorTally& tally = result.errors[absl::StatusCodeToString(status.code())];
        if (tally.count++ == 0) {
          tally.code = status.code();
          tally.example = std::string(status.message());
        }
      }
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(results.size());
  absl::Status started_all;
  for (int slot = 0; slot < options.concurrency; ++slot) {
    try {
      threads.emplace_back(run_slot, slot);
    } catch (const std::system_error& e) {
      started_all = absl::ResourceExhaustedError(absl::StrFormat(
          "cannot start load thread %d of %d: %s", slot + 1, options.concurrency, e.what()));
      stop = true;
      break;
    }
  }
  for (std::thread& thread : threads) thread.join();
  if (!started_all.ok()) return started_all;

  Clock::time_point last_end = start;
  for (const SlotResult& result : results) {
    report.requests_ok += result.requests_ok;
    report.requests_failed += result.requests_failed;
    report.bytes += result.bytes;
    report.latency.Merge(result.latency);
    for (const auto& [code, tally] : result.errors) {
      ErrorTally& total = report.errors[code];
      if (total.count == 0) {
        total.code = tally.code;
        total.example = tally.example;
      }
      total.count += tally.count;
    }
    last_end = std::max(last_end, result.last_end);
  }
  report.elapsed_seconds = std::chrono::duration<double>(last_end - start).count();
  return report;
}

}  // namespace chunkcache
