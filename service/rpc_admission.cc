#include "service/rpc_admission.h"

namespace chunkcache {

bool RpcAdmission::TryAdmit() {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  ++in_flight_;
  return true;
}

void RpcAdmission::Release() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void RpcAdmission::StartDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool RpcAdmission::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int64_t RpcAdmission::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

absl::Status AdmissionTicket::ShuttingDown() {
  return absl::UnavailableError("chunkcached is shutting down; retry on another server");
}

}  // namespace chunkcache
