#include "client/lib/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace chunkcache {

bool IsRetryableCode(grpc::StatusCode code) { return code == grpc::StatusCode::UNAVAILABLE; }

bool RetryPolicy::ShouldRetry(grpc::StatusCode code, int attempts_made) const {
  return IsRetryableCode(code) && attempts_made < max_attempts;
}

std::chrono::milliseconds RetryPolicy::BackoffCeiling(int attempts_made) const {
  const double initial = static_cast<double>(std::max<int64_t>(initial_backoff.count(), 0));
  const double cap = static_cast<double>(std::max<int64_t>(max_backoff.count(), 0));
  const double growth = std::pow(std::max(backoff_multiplier, 1.0), std::max(attempts_made - 1, 0));
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(initial * growth, cap)));
}

std::chrono::milliseconds RetryPolicy::JitteredBackoff(int attempts_made) const {
  thread_local std::minstd_rand random(std::random_device{}());
  const int64_t ceiling = BackoffCeiling(attempts_made).count();
  std::uniform_int_distribution<int64_t> wait(ceiling / 2, ceiling);
  return std::chrono::milliseconds(wait(random));
}

}  // namespace chunkcache
