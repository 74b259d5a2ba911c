// StreamRangeReactor: one StreamRange call on the callback API — a range of any length (length
// 0: to the end of the archive) sent in order as ReadRangeResponse messages of at most
// max_read_bytes.
//
// Flow control: one write is outstanding at a time and the next piece is read only after
// OnWriteDone, so a slow reader holds at most one piece (pinned in the cache, not copied) and
// the server never buffers the archive. The reads are sequential, so the session's readahead
// fetches the chunks ahead of the stream while a piece is being sent. A cancelled call or an
// expired deadline ends the stream at once (OnCancel cancels the waiting read, not the shared
// fetches). Errors after some messages end the stream with that status.
//
// Owns itself: deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_
#define CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_

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

class StreamRangeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(const ServiceDeps& deps,
                                                           grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  StreamRangeReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context)
      : deps_(deps), context_(context), started_(absl::Now()), admission_(deps.admission) {}

  void Begin(const grpc::ByteBuffer* request);
  // Starts the read of the next piece; the last thing the caller does with `this`.
  void ReadNextPiece();
  // Sends a piece (or ends the call); runs inline or on a cache thread.
  void OnPiece(absl::StatusOr<RangeRead> read);
  void Complete(const absl::Status& status);

  const ServiceDeps& deps_;
  grpc::CallbackServerContext* const context_;
  const absl::Time started_;
  const AdmissionTicket admission_;  // counts this call in flight until OnDone
  uint64_t offset_ = 0;
  uint64_t length_ = 0;
  uint64_t requested_end_ = 0;  // offset + length, saturated; the end of the archive comes first
  std::optional<ArchiveRequest> request_;
  std::shared_ptr<SnapshotSession> session_;

  // Touched by one step of the stream at a time (read, then write, then read...).
  uint64_t next_offset_ = 0;
  bool last_piece_sent_ = false;
  grpc::ByteBuffer message_;  // the write in flight

  absl::Mutex mu_;
  std::shared_ptr<CancellableRangeRead> read_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_STREAM_RANGE_REACTOR_H_
