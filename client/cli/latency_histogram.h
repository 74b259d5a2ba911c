// LatencyHistogram: latencies of many requests in fixed memory, for the load generator's
// percentiles. Log-linear buckets (HdrHistogram style): exact below 256 ns, then 128 buckets
// per power of two, so a reported percentile is at most 1/128 (< 0.8%) above the true value.
// Not thread-safe: keep one per thread and Merge them.
//
//   LatencyHistogram histogram;
//   histogram.Record(std::chrono::microseconds(420));
//   histogram.Percentile(0.99);   // nanoseconds
#ifndef CHUNKCACHE_CLIENT_CLI_LATENCY_HISTOGRAM_H_
#define CHUNKCACHE_CLIENT_CLI_LATENCY_HISTOGRAM_H_

#include <chrono>
#include <cstdint>
#include <vector>

namespace chunkcache {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Negative latencies (a clock step) count as 0.
  void Record(std::chrono::nanoseconds latency);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  std::chrono::nanoseconds min() const;   // 0 when empty
  std::chrono::nanoseconds max() const;   // 0 when empty
  std::chrono::nanoseconds mean() const;  // 0 when empty

  // The latency that `quantile` (0..1, clamped) of the samples do not exceed: the upper edge
  // of the bucket holding that rank, never above max(). 0 when empty.
  std::chrono::nanoseconds Percentile(double quantile) const;

 private:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;

  static size_t BucketOf(uint64_t value);
  static uint64_t BucketUpperEdge(size_t bucket);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_LATENCY_HISTOGRAM_H_
