#include "client/lib/pipelined_range_reader.h"

#include <grpcpp/completion_queue.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/lib/status_conversion.h"

namespace chunkcache {
namespace {

using Clock = std::chrono::system_clock;

// One request_size slice of the range, requested (and re-requested after short answers or
// retryable failures) until all its bytes arrived.
struct Piece {
  uint64_t next_offset = 0;  // first byte not received yet
  uint64_t end = 0;          // one past the last byte
  std::string data;          // bytes received so far
  int failed_attempts = 0;   // consecutive failures of the current request
  bool complete() const { return next_offset == end; }
};

// One outstanding ReadRange call; its address is the completion queue tag.
struct OutstandingCall {
  uint64_t piece_index = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  grpc::ClientContext context;
  v1::ReadRangeResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReaderInterface<v1::ReadRangeResponse>> reader;
};

struct PendingRetry {
  Clock::time_point due;
  uint64_t piece_index;
};

class Pipeline {
 public:
  Pipeline(v1::ChunkCache::StubInterface& stub, const CallSetup& setup, const RetryPolicy& retry,
           const std::string& server, const v1::SnapshotRef& ref, uint64_t offset, uint64_t length,
           const PipelineOptions& options, const ByteConsumer& consume, PipelineStats* stats)
      : stub_(stub),
        setup_(setup),
        retry_(retry),
        server_(server),
        ref_(ref),
        offset_(offset),
        length_(length),
        options_(options),
        consume_(consume),
        stats_(stats),
        piece_count_(length / options.request_size + (length % options.request_size != 0 ? 1 : 0)) {
  }

  absl::Status Run() {
    while (true) {
      if (error_.ok()) IssueWhatTheWindowAllows();
      if (in_flight_ == 0 && (!error_.ok() || next_to_deliver_ == piece_count_)) break;
      // Wake up for the next completion, or when the earliest retry is due.
      Clock::time_point wake = Clock::now() + std::chrono::hours(1);
      for (const PendingRetry& retry : retries_) wake = std::min(wake, retry.due);
      void* tag = nullptr;
      bool ok = false;
      const grpc::CompletionQueue::NextStatus next = queue_.AsyncNext(&tag, &ok, wake);
      if (next == grpc::CompletionQueue::TIMEOUT) continue;
      if (next == grpc::CompletionQueue::SHUTDOWN) break;
      std::unique_ptr<OutstandingCall> call(static_cast<OutstandingCall*>(tag));
      outstanding_.erase(call.get());
      --in_flight_;
      if (error_.ok()) HandleCompletion(*call);
    }
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
    return error_;
  }

 private:
  void IssueWhatTheWindowAllows() {
    const Clock::time_point now = Clock::now();
    for (auto it = retries_.begin(); it != retries_.end() && in_flight_ < options_.max_in_flight;) {
      if (it->due <= now) {
        ++stats_->retries;
        Issue(it->piece_index);
        it = retries_.erase(it);
      } else {
        ++it;
      }
    }
    while (in_flight_ < options_.max_in_flight && next_new_piece_ < piece_count_ &&
           next_new_piece_ < next_to_deliver_ + static_cast<uint64_t>(options_.max_in_flight)) {
      const uint64_t index = next_new_piece_++;
      Piece& piece = pieces_[index];
      piece.next_offset = offset_ + index * options_.request_size;
      piece.end = std::min(piece.next_offset + options_.request_size, offset_ + length_);
      Issue(index);
    }
  }

  void Issue(uint64_t piece_index) {
    const Piece& piece = pieces_[piece_index];
    auto call = std::make_unique<OutstandingCall>();
    call->piece_index = piece_index;
    call->offset = piece.next_offset;
    call->length = piece.end - piece.next_offset;
    setup_.Prepare(&call->context);
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() = ref_;
    request.set_offset(call->offset);
    request.set_length(call->length);
    call->reader = stub_.PrepareAsyncReadRange(&call->context, request, &queue_);
    call->reader->StartCall();
    OutstandingCall* tag = call.get();
    call->reader->Finish(&tag->response, &tag->status, tag);
    outstanding_.insert(call.release());
    ++in_flight_;
    ++stats_->requests;
    stats_->max_in_flight_observed = std::max(stats_->max_in_flight_observed, in_flight_);
  }

  void Fail(absl::Status error) {
    error_ = std::move(error);
    retries_.clear();
    // The remaining answers are no longer wanted; their completions still arrive and are
    // drained by Run.
    for (OutstandingCall* call : outstanding_) call->context.TryCancel();
  }

  std::string Context(const OutstandingCall& call) const {
    return absl::StrCat("ReadRange at offset ", call.offset, " on ", server_);
  }

  void HandleCompletion(OutstandingCall& call) {
    Piece& piece = pieces_[call.piece_index];
    if (!call.status.ok()) {
      ++piece.failed_attempts;
      if (retry_.ShouldRetry(call.status.error_code(), piece.failed_attempts)) {
        retries_.push_back(
            {Clock::now() + retry_.JitteredBackoff(piece.failed_attempts), call.piece_index});
        return;
      }
      Fail(FromGrpcStatus(call.status, Context(call)));
      return;
    }
    piece.failed_attempts = 0;
    const v1::ReadRangeResponse& response = call.response;
    const uint64_t size = response.data().size();
    if (response.offset() != call.offset || size > call.length || (size == 0 && !response.eof())) {
      Fail(absl::InternalError(absl::StrCat(Context(call), ": the server answered ", size,
                                            " bytes at offset ", response.offset(),
                                            " for a request of ", call.length, " bytes")));
      return;
    }
    if (piece.data.empty() && size == call.length) {
      piece.data = std::move(*call.response.mutable_data());
    } else {
      piece.data.append(response.data());
    }
    piece.next_offset += size;
    if (!piece.complete()) {
      if (response.eof()) {
        Fail(absl::DataLossError(absl::StrCat(Context(call), ": the archive ended at offset ",
                                              piece.next_offset, ", before the end of the range ",
                                              offset_ + length_)));
        return;
      }
      Issue(call.piece_index);  // a short answer: ask for the rest
      return;
    }
    DeliverCompletePieces();
  }

  void DeliverCompletePieces() {
    for (auto it = pieces_.find(next_to_deliver_); it != pieces_.end() && it->second.complete();
         it = pieces_.find(next_to_deliver_)) {
      const uint64_t piece_offset = offset_ + next_to_deliver_ * options_.request_size;
      absl::Status consumed = consume_(piece_offset, it->second.data);
      pieces_.erase(it);
      ++next_to_deliver_;
      if (!consumed.ok()) {
        Fail(std::move(consumed));
        return;
      }
    }
  }

  v1::ChunkCache::StubInterface& stub_;
  const CallSetup& setup_;
  const RetryPolicy& retry_;
  const std::string server_;
  const v1::SnapshotRef& ref_;
  const uint64_t offset_;
  const uint64_t length_;
  const PipelineOptions options_;
  const ByteConsumer& consume_;
  PipelineStats* stats_;
  const uint64_t piece_count_;

  grpc::CompletionQueue queue_;
  std::map<uint64_t, Piece> pieces_;  // requested and not yet delivered
  std::unordered_set<OutstandingCall*> outstanding_;
  std::vector<PendingRetry> retries_;
  uint64_t next_new_piece_ = 0;
  uint64_t next_to_deliver_ = 0;
  int in_flight_ = 0;
  absl::Status error_;
};

}  // namespace

absl::Status ReadRangePipelined(v1::ChunkCache::StubInterface& stub, const CallSetup& setup,
                                const RetryPolicy& retry, const std::string& server,
                                const v1::SnapshotRef& ref, uint64_t offset, uint64_t length,
                                const PipelineOptions& options, const ByteConsumer& consume,
                                PipelineStats* stats) {
  if (options.max_in_flight < 1 || options.request_size == 0) {
    return absl::InvalidArgumentError(
        "the pipeline needs at least one request in flight and a "
        "request size of at least one byte");
  }
  if (offset + length < offset) {
    return absl::InvalidArgumentError("the range runs past the largest offset");
  }
  PipelineStats ignored;
  if (length == 0) return absl::OkStatus();
  Pipeline pipeline(stub, setup, retry, server, ref, offset, length, options, consume,
                    stats != nullptr ? stats : &ignored);
  return pipeline.Run();
}

}  // namespace chunkcache
