// ReadRangeReactor: one unary ReadRange call on the callback API. The handler checks the
// request and opens the archive on the gRPC thread, then starts an asynchronous range read;
// the reply is finished from the cache thread that completes the read, or from OnCancel when
// the client cancels or its deadline passes — at once, without waiting for the chunk fetches,
// which the cache keeps running for other readers.
//
// The reply is encoded zero-copy (range_response_encoder.h). Requests of length 0 or over
// max_read_bytes are INVALID_ARGUMENT (the message names the cap and points to StreamRange).
//
//   grpc::ServerUnaryReactor* ReadRange(grpc::CallbackServerContext* context,
//                                       const grpc::ByteBuffer* request,
//                                       grpc::ByteBuffer* response) override {
//     return ReadRangeReactor::Start(deps_, context, request, response);
//   }
//
// Owns itself: deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_
#define CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cache/snapshot_session.h"
#include "service/archive_resolver.h"
#include "service/cancellable_operation.h"
#include "service/rpc_admission.h"
#include "service/service_deps.h"

namespace chunkcache {

class ReadRangeReactor final : public grpc::ServerUnaryReactor {
 public:
  static grpc::ServerUnaryReactor* Start(const ServiceDeps& deps,
                                         grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response);

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  ReadRangeReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context,
                   grpc::ByteBuffer* response)
      : deps_(deps),
        context_(context),
        response_(response),
        started_(absl::Now()),
        admission_(deps.admission) {}

  void Begin(const grpc::ByteBuffer* request);
  void OnRead(absl::StatusOr<RangeRead> read);
  // Records the outcome and finishes the call; nothing touches `this` afterwards.
  void Complete(const absl::Status& status);

  const ServiceDeps& deps_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;
  const absl::Time started_;
  const AdmissionTicket admission_;  // counts this call in flight until OnDone
  uint64_t offset_ = 0;
  uint64_t length_ = 0;
  std::optional<ArchiveRequest> request_;
  std::shared_ptr<SnapshotSession> session_;

  absl::Mutex mu_;
  std::shared_ptr<CancellableRangeRead> read_ ABSL_GUARDED_BY(mu_);
};

// CANCELLED or, when the call's deadline has passed, DEADLINE_EXCEEDED: what a reactor
// reports when OnCancel ends its call.
absl::Status CancelledCallStatus(const grpc::CallbackServerContext& context);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_
