// StreamRangeReactor: one StreamRange call on the callback API — a range of any length (length
// 0: to the end of the archive) sent in order as ReadRangeResponse messages of at most
// max_read_bytes.
//
// An archive that is not open yet is opened on the service's BlockingPool, not on the gRPC
// thread; cancellation while it opens ends the call at once.
//
// Flow control: one write is outstanding at a time and the next piece is read only after
// OnWriteDone, so a slow reader holds at most one piece (pinned in the cache, not copied) and
// the server never buffers the archive. Pinned pieces count against the connection's share of
// reply pins (reply_pin_budget.h): while the connection is over it and this stream's earlier
// pieces are still pinned, the next piece is read only once they are released (no thread
// waits); what a piece cannot pin within the budget is copied. The reads are sequential, so the
// session's readahead fetches the chunks ahead of the stream while a piece is being sent. A
// cancelled call or an expired deadline ends the stream at once (OnCancel cancels the waiting read,
// not the shared fetches). Errors after some messages end the stream with that status. The call
// declares its range to the session (SnapshotSession::OpenRangeStream), so that the index
// policy knows its future from the first piece on.
//
// Owns itself: made by StartCall, deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_
#define CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>

#include "absl/status/status.h"
#include "cache/range_read.h"
#include "cache/snapshot_session.h"
#include "service/call_reactor.h"
#include "service/cancellable_operation.h"
#include "service/range_call.h"
#include "service/service_deps.h"

namespace chunkcache {

class StreamRangeReactor final
    : public CallReactor<grpc::ServerWriteReactor<grpc::ByteBuffer>, CancellableRangeRead> {
 public:
  StreamRangeReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context)
      : CallReactor(deps, context, Rpc::kStreamRange) {}

  void OnWriteDone(bool ok) override;

 private:
  void Begin(const grpc::ByteBuffer& request) override;
  // Reads the first piece of the open archive; the last thing the caller does with `this`.
  void StartStream();
  // Starts the read of the next piece; the last thing the caller does with `this`.
  void ReadNextPiece();
  // Sends a piece (or ends the call); runs inline or on a cache thread.
  void OnPiece(absl::StatusOr<RangeRead> read);
  void LogFailure(const absl::Status& status) const override;

  RangeCall call_;
  uint64_t requested_end_ = 0;  // offset + length, saturated; the end of the archive comes first
  // The call declares its range: with the index policy its reads are a stream of that range
  // from the first piece, closed when the call ends (this reactor is deleted).
  RangeStream range_stream_;

  // Touched by one step of the stream at a time (read, then write, then read...).
  uint64_t next_offset_ = 0;
  bool last_piece_sent_ = false;
  grpc::ByteBuffer message_;  // the write in flight
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_
