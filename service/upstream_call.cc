#include "service/upstream_call.h"

#include "service/call_reactor.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"

namespace chunkcache {

grpc::ServerUnaryReactor* UpstreamCall::Finish(const absl::Status& status) {
  record_.Record(status.code());
  if (!status.ok()) {
    LogRpcFailure({record_.rpc(), request ? &*request : nullptr, session.get()}, status);
  }
  grpc::ServerUnaryReactor::Finish(ToGrpcStatus(status));
  return this;
}

void UpstreamCall::OnCancel() {
  std::function<bool()> cancel;
  {
    absl::MutexLock lock(&mu_);
    cancel = cancel_;
  }
  // As CallReactor::OnCancel: a step cancelled now never delivers, so this finishes the call;
  // otherwise the call is finished already or about to be.
  if (cancel != nullptr && cancel()) Finish(CancelledCallStatus(*context_));
}

}  // namespace chunkcache
