#include "service/read_range_reactor.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "service/byte_size.h"
#include "service/request_decoding.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"

namespace chunkcache {

absl::Status CancelledCallStatus(const grpc::CallbackServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed before the read finished");
  }
  return absl::CancelledError("the client cancelled the call");
}

grpc::ServerUnaryReactor* ReadRangeReactor::Start(const ServiceDeps& deps,
                                                  grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  auto* reactor = new ReadRangeReactor(deps, context, response);
  reactor->Begin(request);
  return reactor;
}

void ReadRangeReactor::Begin(const grpc::ByteBuffer* request_bytes) {
  if (!admission_.admitted()) return Complete(AdmissionTicket::ShuttingDown());
  absl::StatusOr<v1::ReadRangeRequest> request =
      DecodeRequest<v1::ReadRangeRequest>(*request_bytes);
  if (!request.ok()) return Complete(request.status());
  offset_ = request->offset();
  length_ = request->length();

  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context_, request->snapshot());
  if (!archive.ok()) return Complete(archive.status());
  request_ = *std::move(archive);
  if (length_ == 0) {
    return Complete(absl::InvalidArgumentError("length must be at least 1 byte"));
  }
  if (length_ > deps_.max_read_bytes) {
    return Complete(absl::InvalidArgumentError(
        absl::StrCat("length ", length_, " exceeds this server's max_read_bytes of ",
                     deps_.max_read_bytes, " (", FormatByteSize(deps_.max_read_bytes),
                     ") per ReadRange; split the read or use StreamRange for longer ranges")));
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*request_);
  if (!session.ok()) return Complete(session.status());
  session_ = *std::move(session);

  auto read = std::make_shared<CancellableRangeRead>(
      [this](absl::StatusOr<RangeRead> result) { OnRead(std::move(result)); });
  {
    absl::MutexLock lock(&mu_);
    read_ = read;
  }
  SnapshotSession& reader = *session_;
  const uint64_t offset = offset_;
  const uint64_t length = length_;
  // Last use of `this` here: the read may finish the call inline or on a cache thread.
  read->Start([&reader, offset, length](CancellableRangeRead::Callback on_result) {
    return reader.ReadAsync(offset, length, std::move(on_result));
  });
}

void ReadRangeReactor::OnRead(absl::StatusOr<RangeRead> read) {
  if (!read.ok()) return Complete(read.status());
  deps_.metrics->AddReadBytes(read->length());
  *response_ = EncodeReadRangeResponse(*read, deps_.pins);
  Complete(absl::OkStatus());
}

void ReadRangeReactor::OnCancel() {
  std::shared_ptr<CancellableRangeRead> read;
  {
    absl::MutexLock lock(&mu_);
    read = read_;
  }
  // Without a read in flight the handler has already finished the call (or is about to).
  if (read != nullptr && read->Cancel()) Complete(CancelledCallStatus(*context_));
}

void ReadRangeReactor::Complete(const absl::Status& status) {
  deps_.metrics->RecordRequest(Rpc::kReadRange, status.code(), absl::Now() - started_);
  if (!status.ok()) {
    LogRpcFailure(
        {Rpc::kReadRange, request_ ? &*request_ : nullptr, session_.get(), offset_, length_},
        status);
  }
  Finish(ToGrpcStatus(status));
}

}  // namespace chunkcache
