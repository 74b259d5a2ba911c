#include "service/call_reactor.h"

#include <chrono>

namespace chunkcache {
namespace {

// gRPC expires a call's deadline on its own clock, and context.deadline() is that deadline
// converted to the system clock: the cancellation can come a fraction of a millisecond before
// the system clock gets there. A cancellation this close to the deadline is the deadline.
constexpr std::chrono::milliseconds kDeadlineClockSkew{10};

}  // namespace

absl::Status CancelledCallStatus(const grpc::CallbackServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now() + kDeadlineClockSkew) {
    return absl::DeadlineExceededError("the call's deadline passed before the read finished");
  }
  return absl::CancelledError("the client cancelled the call");
}

}  // namespace chunkcache
