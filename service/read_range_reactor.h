// ReadRangeReactor: one unary ReadRange call on the callback API. The handler checks the
// request on the gRPC thread; an archive that is not open yet is opened on the service's
// BlockingPool through its ArchiveOpener (never on the gRPC thread). Then it starts an asynchronous
// range read; the reply is finished from the cache thread that completes the read, or from OnCancel
// when the client cancels or its deadline passes — at once, without waiting for the open or the
// chunk fetches, which keep running for other readers.
//
// The reply is encoded zero-copy (range_response_encoder.h). Requests of length 0 or over
// max_read_bytes are INVALID_ARGUMENT (the message names the cap and points to StreamRange).
//
//   grpc::ServerUnaryReactor* ReadRange(grpc::CallbackServerContext* context,
//                                       const grpc::ByteBuffer* request,
//                                       grpc::ByteBuffer* response) override {
//     return StartCall<ReadRangeReactor>(*request, deps_, context, response);
//   }
//
// Owns itself: made by StartCall, deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_
#define CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "cache/range_read.h"
#include "service/call_reactor.h"
#include "service/cancellable_operation.h"
#include "service/range_call.h"
#include "service/service_deps.h"

namespace chunkcache {

class ReadRangeReactor final : public CallReactor<grpc::ServerUnaryReactor, CancellableRangeRead> {
 public:
  ReadRangeReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context,
                   grpc::ByteBuffer* response)
      : CallReactor(deps, context, Rpc::kReadRange), response_(response) {}

 private:
  void Begin(const grpc::ByteBuffer& request) override;
  // INVALID_ARGUMENT for 0 and for more than max_read_bytes.
  absl::Status CheckLength(uint64_t length) const;
  // Starts the range read of the open archive; the last thing the caller does with `this`.
  void Read();
  void OnRead(absl::StatusOr<RangeRead> read);
  void LogFailure(const absl::Status& status) const override;

  grpc::ByteBuffer* const response_;
  RangeCall call_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_READ_RANGE_REACTOR_H_
