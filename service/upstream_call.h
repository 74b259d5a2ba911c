// UpstreamCall: the reactor of a unary call on the generated message classes whose work may
// block on the upstream — StatSnapshot and Prefetch (opening the archive; StatSnapshot's
// cached_bytes of a big archive, one cache lookup per distinct chunk), GetSnapshotFile
// (reading the file), ListSnapshots (listing the datastore). The handler checks the request
// on the gRPC thread (no I/O) and either finishes at once (a refusal; an archive that is open
// already) or hands the blocking step to the service's BlockingPool with Run, whose result is
// applied to the reply and finishes the call from the worker. OnCancel (the client cancels,
// the deadline passes, the server shuts down) finishes the call at once with CANCELLED or
// DEADLINE_EXCEEDED while the step runs on; the step then touches neither the reply nor the
// reactor. A full pool answers RESOURCE_EXHAUSTED. Outcomes are recorded in RequestMetrics
// and failures logged as for the other calls.
//
//   auto* call = new UpstreamCall(deps_, context, Rpc::kGetSnapshotFile);
//   if (!call->admitted()) return call->Finish(AdmissionTicket::ShuttingDown());
//   ...check; call->request = *checked;
//   return call->Run<std::string>(
//       [upstream, ...] { return upstream->ReadSnapshotFile(...); },     // on a worker
//       [response](std::string bytes) { ...; return absl::OkStatus(); }); // unless cancelled
//
// Owns itself: deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_UPSTREAM_CALL_H_
#define CHUNKCACHE_SERVICE_UPSTREAM_CALL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot_session.h"
#include "service/archive_opener.h"
#include "service/archive_resolver.h"
#include "service/blocking_pool.h"
#include "service/call_record.h"
#include "service/cancellable_operation.h"
#include "service/service_deps.h"

namespace chunkcache {

class UpstreamCall final : public grpc::ServerUnaryReactor {
 public:
  UpstreamCall(const ServiceDeps& deps, grpc::CallbackServerContext* context, Rpc rpc)
      : deps_(deps), context_(context), record_(deps, rpc) {}

  // False while the server drains: then Finish(AdmissionTicket::ShuttingDown()).
  bool admitted() const { return record_.admitted(); }

  // What a failed call was about, as far as it got, for the log. Set by the handler before
  // Run, or by Run's `apply`, never by its `work`.
  std::optional<ArchiveRequest> request;
  std::shared_ptr<SnapshotSession> session;

  // Records the outcome, logs a failure and finishes the call; returns the reactor for the
  // handler to return. Nothing touches the call afterwards.
  grpc::ServerUnaryReactor* Finish(const absl::Status& status);

  // Runs `work` on the BlockingPool, then `apply` with its result on the worker, and finishes
  // the call with apply's status (or work's error) — unless OnCancel finished it first, in
  // which case `apply` never runs. `work` must not touch the call or its reply. Returns the
  // reactor for the handler to return; the last thing the handler does with the call.
  template <typename Result>
  grpc::ServerUnaryReactor* Run(absl::AnyInvocable<absl::StatusOr<Result>()> work,
                                absl::AnyInvocable<absl::Status(Result)> apply) {
    BlockingPool* const pool = deps_.pool;
    return Begin<Result, BlockingTicket<Result>>(
        std::move(apply), [pool, &work](absl::AnyInvocable<void(absl::StatusOr<Result>)> callback) {
          return pool->Submit<Result>(std::move(work), std::move(callback));
        });
  }

  // Opens `request`'s archive through the service's ArchiveOpener (joining an open of it in
  // progress), then runs `apply` with the session on the worker and finishes the call with its
  // status, as Run.
  grpc::ServerUnaryReactor* RunOpen(
      const ArchiveRequest& archive,
      absl::AnyInvocable<absl::Status(std::shared_ptr<SnapshotSession>)> apply) {
    return Begin<std::shared_ptr<SnapshotSession>, OpenTicket>(
        std::move(apply), [opener = deps_.opener, &archive](SessionCallback callback) {
          return opener->Open(archive, std::move(callback));
        });
  }

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  // Starts the step through `issue` as a CancellableOperation that OnCancel can detach.
  template <typename Result, typename Ticket>
  grpc::ServerUnaryReactor* Begin(
      absl::AnyInvocable<absl::Status(Result)> apply,
      absl::FunctionRef<Ticket(absl::AnyInvocable<void(absl::StatusOr<Result>)>)> issue) {
    using Step = CancellableOperation<Result, Ticket>;
    auto operation = std::make_shared<Step>(
        [this, apply = std::move(apply)](absl::StatusOr<Result> result) mutable {
          if (!result.ok()) return (void)Finish(result.status());
          Finish(apply(*std::move(result)));
        });
    {
      absl::MutexLock lock(&mu_);
      cancel_ = [operation] { return operation->Cancel(); };  // before the step can deliver
    }
    operation->Start(issue);
    return this;
  }

  const ServiceDeps& deps_;
  grpc::CallbackServerContext* const context_;
  const CallRecord record_;  // counts the call in flight until OnDone

  absl::Mutex mu_;
  std::function<bool()> cancel_ ABSL_GUARDED_BY(mu_);  // detaches the step in flight
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_UPSTREAM_CALL_H_
