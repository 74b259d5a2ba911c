#include "service/read_range_reactor.h"

#include "absl/strings/str_cat.h"
#include "service/byte_size.h"
#include "service/rpc_event_log.h"

namespace chunkcache {

void ReadRangeReactor::Begin(const grpc::ByteBuffer& request) {
  const absl::Status begun = BeginRangeCall(
      *deps_.resolver, *context_, request, [this](uint64_t length) { return CheckLength(length); },
      &call_);
  if (!begun.ok()) return Complete(begun);
  WithSession(&call_.session, *call_.request, [this] { Read(); });
}

void ReadRangeReactor::Read() {
  SnapshotSession& session = *call_.session;
  const uint64_t offset = call_.offset;
  const uint64_t length = call_.length;
  const uint64_t requester = call_.requester;
  StartOperation([this](absl::StatusOr<RangeRead> result) { OnRead(std::move(result)); },
                 [&session, offset, length, requester](CancellableRangeRead::Callback on_result) {
                   return session.ReadAsync(offset, length, std::move(on_result), requester);
                 });
}

absl::Status ReadRangeReactor::CheckLength(uint64_t length) const {
  if (length == 0) return absl::InvalidArgumentError("length must be at least 1 byte");
  if (length > deps_.max_read_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("length ", length, " exceeds this server's max_read_bytes of ",
                     deps_.max_read_bytes, " (", FormatByteSize(deps_.max_read_bytes),
                     ") per ReadRange; split the read or use StreamRange for longer ranges"));
  }
  return absl::OkStatus();
}

void ReadRangeReactor::OnRead(absl::StatusOr<RangeRead> read) {
  if (!read.ok()) return Complete(read.status());
  deps_.metrics->AddReadBytes(read->length());
  *response_ = EncodeReadRangeResponse(*read, deps_.pins, reply_pins());
  Complete(absl::OkStatus());
}

void ReadRangeReactor::LogFailure(const absl::Status& status) const {
  LogRpcFailure({Rpc::kReadRange, call_.request ? &*call_.request : nullptr, call_.session.get(),
                 call_.offset, call_.length},
                status);
}

}  // namespace chunkcache
