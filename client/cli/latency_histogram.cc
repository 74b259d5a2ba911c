#include "client/cli/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace chunkcache {

// Values below 2 * kSubBuckets have one bucket each. Above, a value with its highest bit at
// position p (p >= kSubBucketBits) is shifted right by p - kSubBucketBits, leaving a number in
// [kSubBuckets, 2 * kSubBuckets): bucket (p - kSubBucketBits) * kSubBuckets + that number.
// The buckets of consecutive powers of two are therefore contiguous, and the largest value
// (p = 63) lands in the last bucket.
size_t LatencyHistogram::BucketOf(uint64_t value) {
  if (value < 2 * kSubBuckets) return static_cast<size_t>(value);
  const int highest_bit = 63 - std::countl_zero(value);
  const int shift = highest_bit - kSubBucketBits;
  return static_cast<size_t>(shift) * kSubBuckets + static_cast<size_t>(value >> shift);
}

uint64_t LatencyHistogram::BucketUpperEdge(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  const uint64_t shift = bucket / kSubBuckets - 1;
  const uint64_t top = bucket - shift * kSubBuckets;  // in [kSubBuckets, 2 * kSubBuckets)
  // ((top + 1) << shift) - 1 without overflowing for the very last bucket.
  return (top << shift) + ((uint64_t{1} << shift) - 1);
}

LatencyHistogram::LatencyHistogram() : counts_(BucketOf(UINT64_MAX) + 1, 0) {}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const uint64_t value = latency.count() > 0 ? static_cast<uint64_t>(latency.count()) : 0;
  ++counts_[BucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::chrono::nanoseconds LatencyHistogram::min() const {
  return std::chrono::nanoseconds(count_ == 0 ? 0 : static_cast<int64_t>(min_));
}

std::chrono::nanoseconds LatencyHistogram::max() const {
  return std::chrono::nanoseconds(static_cast<int64_t>(max_));
}

std::chrono::nanoseconds LatencyHistogram::mean() const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(sum_ / count_));
}

std::chrono::nanoseconds LatencyHistogram::Percentile(double quantile) const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  if (!(quantile > 0)) quantile = 0;  // also NaN
  quantile = std::min(quantile, 1.0);
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(quantile * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < counts_.size(); ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) {
      const uint64_t edge = std::clamp(BucketUpperEdge(bucket), min_, max_);
      return std::chrono::nanoseconds(static_cast<int64_t>(edge));
    }
  }
  return max();
}

}  // namespace chunkcache
