// RetryPolicy: which failed calls the client tries again and how long it waits in between.
// The retryable status codes are listed in IsRetryableCode() and nowhere else.
//
//   RetryPolicy policy;  // 5 attempts; waits of up to 100 ms, 200 ms, 400 ms, ... capped at 5 s
//   for (int attempts = 1;; ++attempts) {
//     grpc::Status status = stub->ReadRange(&context, request, &response);
//     if (!policy.ShouldRetry(status.error_code(), attempts)) return status;
//     std::this_thread::sleep_for(policy.JitteredBackoff(attempts));
//   }
#ifndef CHUNKCACHE_CLIENT_LIB_RETRY_POLICY_H_
#define CHUNKCACHE_CLIENT_LIB_RETRY_POLICY_H_

#include <grpcpp/support/status.h>

#include <chrono>

namespace chunkcache {

// UNAVAILABLE only: the server (or its upstream) is down or restarting, and the same request
// may well succeed later. Every other code is an answer, not a transient condition.
bool IsRetryableCode(grpc::StatusCode code);

struct RetryPolicy {
  int max_attempts = 5;  // total attempts per call; 1 disables retries
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  double backoff_multiplier = 2.0;

  static RetryPolicy NoRetries() { return RetryPolicy{.max_attempts = 1}; }

  // Whether a call that has failed `attempts_made` times, the last time with `code`, is tried
  // again.
  bool ShouldRetry(grpc::StatusCode code, int attempts_made) const;

  // The longest wait after the `attempts_made`-th failure: initial_backoff *
  // multiplier^(attempts_made - 1), at most max_backoff.
  std::chrono::milliseconds BackoffCeiling(int attempts_made) const;

  // A random wait in [ceiling / 2, ceiling], so that many clients cut off by one server restart
  // do not all come back at the same instant.
  std::chrono::milliseconds JitteredBackoff(int attempts_made) const;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_RETRY_POLICY_H_
