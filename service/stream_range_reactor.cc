#include "service/stream_range_reactor.h"

#include <algorithm>
#include <limits>

#include "chunkcache/v1/chunkcache.pb.h"
#include "service/read_range_reactor.h"
#include "service/request_decoding.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"

namespace chunkcache {

grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamRangeReactor::Start(
    const ServiceDeps& deps, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* request) {
  auto* reactor = new StreamRangeReactor(deps, context);
  reactor->Begin(request);
  return reactor;
}

void StreamRangeReactor::Begin(const grpc::ByteBuffer* request_bytes) {
  if (!admission_.admitted()) return Complete(AdmissionTicket::ShuttingDown());
  absl::StatusOr<v1::ReadRangeRequest> request =
      DecodeRequest<v1::ReadRangeRequest>(*request_bytes);
  if (!request.ok()) return Complete(request.status());
  offset_ = request->offset();
  length_ = request->length();
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context_, request->snapshot());
  if (!archive.ok()) return Complete(archive.status());
  request_ = *std::move(archive);
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*request_);
  if (!session.ok()) return Complete(session.status());
  session_ = *std::move(session);

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // Length 0 streams to the end of the archive.
  requested_end_ = length_ == 0 || length_ > kMax - offset_ ? kMax : offset_ + length_;
  next_offset_ = offset_;
  ReadNextPiece();
}

void StreamRangeReactor::ReadNextPiece() {
  const uint64_t piece = std::min(deps_.max_read_bytes, requested_end_ - next_offset_);
  auto read = std::make_shared<CancellableRangeRead>(
      [this](absl::StatusOr<RangeRead> result) { OnPiece(std::move(result)); });
  {
    absl::MutexLock lock(&mu_);
    read_ = read;
  }
  SnapshotSession& session = *session_;
  const uint64_t offset = next_offset_;
  // Last use of `this` here: the read may finish the piece inline or on a cache thread.
  read->Start([&session, offset, piece](CancellableRangeRead::Callback on_result) {
    return session.ReadAsync(offset, piece, std::move(on_result));
  });
}

void StreamRangeReactor::OnPiece(absl::StatusOr<RangeRead> read) {
  if (!read.ok()) return Complete(read.status());
  const uint64_t bytes = read->length();
  deps_.metrics->AddReadBytes(bytes);
  next_offset_ = read->offset + bytes;
  last_piece_sent_ = read->eof || next_offset_ >= requested_end_;
  message_ = EncodeReadRangeResponse(*read, deps_.pins);
  // OnWriteDone may run on another thread before StartWrite returns: `this` is not touched
  // after it.
  StartWrite(&message_);
}

void StreamRangeReactor::OnWriteDone(bool ok) {
  message_.Clear();  // drop our references to the sent chunks now
  if (!ok) return Complete(CancelledCallStatus(*context_));
  if (last_piece_sent_) return Complete(absl::OkStatus());
  if (context_->IsCancelled()) return Complete(CancelledCallStatus(*context_));
  ReadNextPiece();
}

void StreamRangeReactor::OnCancel() {
  std::shared_ptr<CancellableRangeRead> read;
  {
    absl::MutexLock lock(&mu_);
    read = read_;
  }
  // A read in flight that is cancelled now will never deliver: this reaction finishes the
  // call. Otherwise a write is in flight and its OnWriteDone(false) does.
  if (read != nullptr && read->Cancel()) Complete(CancelledCallStatus(*context_));
}

void StreamRangeReactor::Complete(const absl::Status& status) {
  deps_.metrics->RecordRequest(Rpc::kStreamRange, status.code(), absl::Now() - started_);
  if (!status.ok()) {
    LogRpcFailure({Rpc::kStreamRange, request_ ? &*request_ : nullptr, session_.get(), next_offset_,
                   std::min(deps_.max_read_bytes, requested_end_ - next_offset_)},
                  status);
  }
  Finish(ToGrpcStatus(status));
}

}  // namespace chunkcache
