// CallReactor<GrpcReactor, Operation>: what the reactors of the asynchronous ChunkCache calls
// (ReadRange, StreamRange, GetChunk) share, so that each of them only says how it checks its
// request and what it does with the cache:
//  * admission: the call holds an AdmissionTicket until OnDone, and a call that arrives while
//    the server drains is answered UNAVAILABLE before its request is even decoded;
//  * cancellation: at most one cache operation (an `Operation`, see cancellable_operation.h) or
//    blocking step (WithSession: the archive's open, on the service's BlockingPool) is in flight at
//    a time; OnCancel detaches it and, when that means its callback will never run, finishes the
//    call itself with CANCELLED or DEADLINE_EXCEEDED;
//  * the outcome: Complete records it in RequestMetrics, logs a failure (through the reactor's
//    LogFailure, which knows what the call was about) and finishes the call.
//
//   class ReadRangeReactor final
//       : public CallReactor<grpc::ServerUnaryReactor, CancellableRangeRead> {
//     void Begin(const grpc::ByteBuffer& request) override;  // check, then StartOperation
//     void LogFailure(const absl::Status& status) const override;
//   };
//   return StartCall<ReadRangeReactor>(*request, deps_, context, response);  // in the handler
//
// Owns itself: deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_CALL_REACTOR_H_
#define CHUNKCACHE_SERVICE_CALL_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "service/archive_opener.h"
#include "service/call_record.h"
#include "service/cancellable_operation.h"
#include "service/reply_pin_budget.h"
#include "service/request_metrics.h"
#include "service/rpc_admission.h"
#include "service/service_deps.h"
#include "service/status_mapping.h"

namespace chunkcache {

// CANCELLED or, when the call's deadline has passed, DEADLINE_EXCEEDED: what a reactor
// reports when the client has gone away before the call finished.
absl::Status CancelledCallStatus(const grpc::CallbackServerContext& context);

// `GrpcReactor` is grpc::ServerUnaryReactor or grpc::ServerWriteReactor<grpc::ByteBuffer>;
// `Operation` a CancellableOperation.
template <typename GrpcReactor, typename Operation>
class CallReactor : public GrpcReactor {
 public:
  // Answers UNAVAILABLE while the server drains, otherwise runs Begin. Called once, by
  // StartCall, right after construction (not by the constructor: Begin is virtual).
  void BeginIfAdmitted(const grpc::ByteBuffer& request) {
    if (!record_.admitted()) return Complete(AdmissionTicket::ShuttingDown());
    Begin(request);
  }

  void OnCancel() override {
    std::function<bool()> cancel;
    {
      absl::MutexLock lock(&mu_);
      cancel = cancel_;
    }
    // An operation that is cancelled now will never deliver: this reaction finishes the call.
    // Otherwise the call is finished already, or about to be by the handler or the operation's
    // callback, or (StreamRange) a write is in flight and its OnWriteDone(false) finishes it.
    if (cancel != nullptr && cancel()) Complete(CancelledCallStatus(*context_));
  }

  void OnDone() override { delete this; }

 protected:
  CallReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context, Rpc rpc)
      : deps_(deps), context_(context), record_(deps, rpc) {}

  // Decodes and checks the request and starts the call's work; runs for an admitted call only.
  virtual void Begin(const grpc::ByteBuffer& request) = 0;
  // Logs a failed outcome, naming what the call was about as far as it got.
  virtual void LogFailure(const absl::Status& status) const = 0;

  // Makes `issue` the call's operation in flight, with `on_result` as its callback unless
  // OnCancel detaches it first. The last thing the caller may do with `this`: the operation can
  // finish the call inline or on a cache thread.
  void StartOperation(typename Operation::Callback on_result, typename Operation::Issue issue) {
    auto operation = std::make_shared<Operation>(std::move(on_result));
    SetInFlight(operation);
    operation->Start(issue);
  }

  // Runs `next` once `*session` holds `request`'s archive: at once when the archive was open
  // already, otherwise after the service's ArchiveOpener opened it (on its BlockingPool, joining
  // an open of the same archive in progress), on the worker, unless OnCancel detaches the open
  // first; a failed open completes the call. The last thing the caller may do with `this`.
  void WithSession(std::shared_ptr<SnapshotSession>* session, const ArchiveRequest& request,
                   absl::AnyInvocable<void()> next) {
    if (*session != nullptr) return next();
    using Opening = CancellableOperation<std::shared_ptr<SnapshotSession>, OpenTicket>;
    auto operation = std::make_shared<Opening>(
        [this, session, next = std::move(next)](SessionResult opened) mutable {
          if (!opened.ok()) return Complete(opened.status());
          *session = *std::move(opened);
          next();
        });
    SetInFlight(operation);
    ArchiveOpener* const opener = deps_.opener;
    operation->Start([opener, &request](Opening::Callback callback) {
      return opener->Open(request, std::move(callback));
    });
  }

  // The pins of this call's zero-copy replies, charged to its connection's share
  // (reply_pin_budget.h); null when the server has no reply budget.
  const std::shared_ptr<ReplyPins>& reply_pins() {
    if (reply_pins_ == nullptr && deps_.reply_budget != nullptr) {
      reply_pins_ = deps_.reply_budget->ForCall(context_->peer());
    }
    return reply_pins_;
  }

  // Runs `next` once this call may pin more reply bytes (ReplyPins::WhenRoom): at once when it
  // may now, otherwise on the thread that releases the pins that let it, unless OnCancel
  // detaches the wait first. Never blocks a thread. The last thing the caller may do with
  // `this`.
  void WhenReplyRoom(absl::AnyInvocable<void()> next) {
    const std::shared_ptr<ReplyPins>& pins = reply_pins();
    if (pins == nullptr) return next();
    using Waiting = CancellableOperation<ReplyRoom, ReplyRoomTicket>;
    auto operation = std::make_shared<Waiting>(
        [next = std::move(next)](absl::StatusOr<ReplyRoom>) mutable { next(); });
    SetInFlight(operation);
    ReplyPins* const waiting = pins.get();
    operation->Start(
        [waiting](Waiting::Callback callback) { return waiting->WhenRoom(std::move(callback)); });
  }

  // Records the outcome and finishes the call; nothing touches `this` afterwards.
  void Complete(const absl::Status& status) {
    record_.Record(status.code());
    if (!status.ok()) LogFailure(status);
    this->Finish(ToGrpcStatus(status));
  }

  const ServiceDeps& deps_;
  grpc::CallbackServerContext* const context_;

 private:
  // Makes `operation` the one OnCancel detaches; visible to it before the operation starts.
  template <typename AnyOperation>
  void SetInFlight(const std::shared_ptr<AnyOperation>& operation) {
    absl::MutexLock lock(&mu_);
    cancel_ = [operation] { return operation->Cancel(); };
  }

  const CallRecord record_;                // counts this call in flight until OnDone
  std::shared_ptr<ReplyPins> reply_pins_;  // made on first use, by one step of the call at a time

  absl::Mutex mu_;
  std::function<bool()> cancel_ ABSL_GUARDED_BY(mu_);  // cancels the operation in flight
};

// Creates the reactor of one call and begins it; what a handler returns. The reactor owns
// itself from then on (deleted in OnDone), so reactors are only ever made here.
template <typename Reactor, typename... Args>
Reactor* StartCall(const grpc::ByteBuffer& request, Args&&... args) {
  auto* reactor = new Reactor(std::forward<Args>(args)...);
  reactor->BeginIfAdmitted(request);
  return reactor;
}

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CALL_REACTOR_H_
