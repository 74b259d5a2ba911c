#include "service/stream_range_reactor.h"

#include <algorithm>
#include <limits>

#include "service/rpc_event_log.h"

namespace chunkcache {

void StreamRangeReactor::Begin(const grpc::ByteBuffer& request) {
  // Any length goes: the stream sends it in pieces of at most max_read_bytes.
  const absl::Status begun = BeginRangeCall(
      *deps_.resolver, *context_, request, [](uint64_t) { return absl::OkStatus(); }, &call_);
  if (!begun.ok()) return Complete(begun);
  WithSession(&call_.session, *call_.request, [this] { StartStream(); });
}

void StreamRangeReactor::StartStream() {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t offset = call_.offset;
  const uint64_t length = call_.length;
  // Length 0 streams to the end of the archive.
  requested_end_ = length == 0 || length > kMax - offset ? kMax : offset + length;
  next_offset_ = offset;
  range_stream_ = call_.session->OpenRangeStream(offset, requested_end_);
  ReadNextPiece();
}

void StreamRangeReactor::ReadNextPiece() {
  const uint64_t piece = std::min(deps_.max_read_bytes, requested_end_ - next_offset_);
  SnapshotSession& session = *call_.session;
  const uint64_t offset = next_offset_;
  const uint64_t requester = call_.requester;
  const RangeStream* stream = &range_stream_;  // lives as long as the call
  StartOperation(
      [this](absl::StatusOr<RangeRead> result) { OnPiece(std::move(result)); },
      [&session, offset, piece, requester, stream](CancellableRangeRead::Callback on_result) {
        return session.ReadAsync(offset, piece, std::move(on_result), requester, stream);
      });
}

void StreamRangeReactor::OnPiece(absl::StatusOr<RangeRead> read) {
  if (!read.ok()) return Complete(read.status());
  const uint64_t bytes = read->length();
  deps_.metrics->AddReadBytes(bytes);
  next_offset_ = read->offset + bytes;
  last_piece_sent_ = read->eof || next_offset_ >= requested_end_;
  message_ = EncodeReadRangeResponse(*read, deps_.pins, reply_pins());
  // OnWriteDone may run on another thread before StartWrite returns: `this` is not touched
  // after it.
  StartWrite(&message_);
}

void StreamRangeReactor::OnWriteDone(bool ok) {
  message_.Clear();  // drop our references to the sent chunks now
  if (!ok) return Complete(CancelledCallStatus(*context_));
  if (last_piece_sent_) return Complete(absl::OkStatus());
  if (context_->IsCancelled()) return Complete(CancelledCallStatus(*context_));
  // Flow control for the cache: while the connection is over its share of pinned reply bytes
  // and this stream's last pieces are still pinned (not sent yet), wait for them to go.
  WhenReplyRoom([this] { ReadNextPiece(); });
}

void StreamRangeReactor::LogFailure(const absl::Status& status) const {
  LogRpcFailure({Rpc::kStreamRange, call_.request ? &*call_.request : nullptr, call_.session.get(),
                 next_offset_, std::min(deps_.max_read_bytes, requested_end_ - next_offset_)},
                status);
}

}  // namespace chunkcache
