#include "service/call_reactor.h"

#include <chrono>

namespace chunkcache {

absl::Status CancelledCallStatus(const grpc::CallbackServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed before the read finished");
  }
  return absl::CancelledError("the client cancelled the call");
}

}  // namespace chunkcache
