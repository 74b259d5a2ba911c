#include "client/lib/chunkcache_client.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/lib/pipelined_range_reader.h"
#include "client/lib/stall_watchdog.h"
#include "client/lib/status_conversion.h"

namespace chunkcache {
namespace {

// Runs `attempt` (one call with a fresh context) until it succeeds, fails with a code that is
// not retryable, or the policy's attempts are used up.
template <typename Attempt>
grpc::Status CallWithRetries(const RetryPolicy& policy, Attempt&& attempt) {
  for (int attempts = 1;; ++attempts) {
    grpc::Status status = attempt();
    if (!policy.ShouldRetry(status.error_code(), attempts)) return status;
    std::this_thread::sleep_for(policy.JitteredBackoff(attempts));
  }
}

absl::Status CheckRange(uint64_t offset, uint64_t length) {
  if (offset + length < offset) {
    return absl::InvalidArgumentError(absl::StrCat("the range of ", length, " bytes at offset ",
                                                   offset,
                                                   " runs past the largest possible offset"));
  }
  return absl::OkStatus();
}

}  // namespace

ChunkCacheClient::ChunkCacheClient(std::shared_ptr<grpc::ChannelInterface> channel,
                                   ClientOptions options)
    : options_(std::move(options)),
      setup_(options_),
      channel_(std::move(channel)),
      stub_(v1::ChunkCache::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<ChunkCacheClient>> ChunkCacheClient::Connect(
    const ClientOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<ChunkCacheClient>(new ChunkCacheClient(*std::move(channel), options));
}

absl::StatusOr<std::unique_ptr<ChunkCacheClient>> ChunkCacheClient::ForChannel(
    std::shared_ptr<grpc::ChannelInterface> channel, const ClientOptions& options) {
  ClientOptions checked = options;
  checked.use_tls = false;
  checked.ca_cert_file.clear();
  checked.client_cert_file.clear();
  checked.client_key_file.clear();
  checked.tls_server_name.clear();
  if (checked.server_address.empty()) checked.server_address = "in-process channel";
  if (absl::Status valid = ValidateClientOptions(checked); !valid.ok()) return valid;
  if (channel == nullptr) return absl::InvalidArgumentError("no channel given");
  return std::unique_ptr<ChunkCacheClient>(
      new ChunkCacheClient(std::move(channel), std::move(checked)));
}

absl::StatusOr<v1::ReadRangeResponse> ChunkCacheClient::ReadRange(const v1::SnapshotRef& ref,
                                                                  uint64_t offset,
                                                                  uint64_t length) {
  if (absl::Status range = CheckRange(offset, length); !range.ok()) return range;
  v1::ReadRangeRequest request;
  *request.mutable_snapshot() = ref;
  request.set_offset(offset);
  request.set_length(length);
  v1::ReadRangeResponse response;
  const grpc::Status status = CallWithRetries(options_.retry, [&] {
    grpc::ClientContext context;
    setup_.Prepare(&context);
    response.Clear();
    return stub_->ReadRange(&context, request, &response);
  });
  const std::string context =
      absl::StrCat("ReadRange at offset ", offset, " on ", options_.server_address);
  if (!status.ok()) return FromGrpcStatus(status, context);
  const uint64_t size = response.data().size();
  if (response.offset() != offset || size > length || (size == 0 && !response.eof())) {
    return absl::InternalError(absl::StrCat(context, ": the server answered ", size,
                                            " bytes at offset ", response.offset(),
                                            " for a request of ", length, " bytes"));
  }
  return response;
}

absl::StatusOr<uint64_t> ChunkCacheClient::ReadTo(const v1::SnapshotRef& ref, uint64_t offset,
                                                  uint64_t length, const ByteConsumer& consume) {
  if (absl::Status range = CheckRange(offset, length); !range.ok()) return range;
  uint64_t done = 0;
  while (done < length) {
    const uint64_t piece = std::min(length - done, options_.max_read_bytes);
    absl::StatusOr<v1::ReadRangeResponse> response = ReadRange(ref, offset + done, piece);
    if (!response.ok()) {
      // The previous piece ended exactly at the end without the server saying so.
      if (absl::IsOutOfRange(response.status()) && done > 0) break;
      return response.status();
    }
    if (absl::Status consumed = consume(offset + done, response->data()); !consumed.ok()) {
      return consumed;
    }
    done += response->data().size();
    if (response->eof()) break;
  }
  return done;
}

absl::StatusOr<std::string> ChunkCacheClient::Read(const v1::SnapshotRef& ref, uint64_t offset,
                                                   uint64_t length) {
  std::string bytes;
  absl::StatusOr<uint64_t> done =
      ReadTo(ref, offset, length, [&bytes](uint64_t, std::string_view piece) {
        bytes.append(piece);
        return absl::OkStatus();
      });
  if (!done.ok()) return done.status();
  return bytes;
}

absl::StatusOr<uint64_t> ChunkCacheClient::StreamTo(const v1::SnapshotRef& ref, uint64_t offset,
                                                    uint64_t length, const ByteConsumer& consume) {
  StreamArchiveResult counters;
  return StreamToCounting(ref, offset, length, consume, &counters);
}

absl::StatusOr<uint64_t> ChunkCacheClient::StreamToCounting(const v1::SnapshotRef& ref,
                                                            uint64_t offset, uint64_t length,
                                                            const ByteConsumer& consume,
                                                            StreamArchiveResult* counters) {
  if (absl::Status range = CheckRange(offset, length); !range.ok()) return range;
  uint64_t done = 0;
  int failures_without_progress = 0;
  while (done < length) {
    const uint64_t request_offset = offset + done;
    const std::string context =
        absl::StrCat("StreamRange at offset ", request_offset, " on ", options_.server_address);
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() = ref;
    request.set_offset(request_offset);
    request.set_length(length - done);

    absl::Status stopped;  // consumer error or a malformed answer
    bool eof = false;
    bool stalled = false;
    grpc::Status status;
    {
      grpc::ClientContext call_context;
      setup_.Prepare(&call_context, /*with_deadline=*/false);
      StallWatchdog watchdog(&call_context, setup_.rpc_deadline());
      if (!watchdog.started()) {
        return absl::ResourceExhaustedError(
            absl::StrCat(context, ": cannot start a thread to watch the stream"));
      }
      std::unique_ptr<grpc::ClientReader<v1::ReadRangeResponse>> reader =
          stub_->StreamRange(&call_context, request);
      ++counters->requests;
      v1::ReadRangeResponse response;
      while (reader->Read(&response)) {
        watchdog.NoteProgress();
        const uint64_t size = response.data().size();
        if (response.offset() != offset + done || size > length - done || eof) {
          stopped = absl::InternalError(absl::StrCat(
              context, ": the server sent ", size, " bytes at offset ", response.offset(),
              " where ", length - done, " bytes at offset ", offset + done, " were expected"));
          call_context.TryCancel();
          break;
        }
        stopped = consume(offset + done, response.data());
        if (!stopped.ok()) {
          call_context.TryCancel();
          break;
        }
        watchdog.NoteProgress();
        done += size;
        if (size > 0) failures_without_progress = 0;
        eof = response.eof();
      }
      status = reader->Finish();
      stalled = watchdog.fired();
    }
    if (!stopped.ok()) return stopped;
    if (stalled) {
      return absl::DeadlineExceededError(
          absl::StrCat(context, ": no data from the server for ", setup_.rpc_deadline().count(),
                       " ms (raise the deadline for slow upstreams)"));
    }
    if (status.ok()) {
      if (eof || done == length) break;
      return absl::InternalError(absl::StrCat(context, ": the stream ended after ", done, " of ",
                                              length, " bytes without reaching the end"));
    }
    if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE && done > 0) break;
    ++failures_without_progress;
    if (!options_.retry.ShouldRetry(status.error_code(), failures_without_progress)) {
      return FromGrpcStatus(status, context);
    }
    ++counters->retries;
    std::this_thread::sleep_for(options_.retry.JitteredBackoff(failures_without_progress));
  }
  return done;
}

absl::StatusOr<v1::SnapshotInfo> ChunkCacheClient::Stat(const v1::SnapshotRef& ref) {
  v1::StatSnapshotRequest request;
  *request.mutable_snapshot() = ref;
  v1::SnapshotInfo info;
  const grpc::Status status = CallWithRetries(options_.retry, [&] {
    grpc::ClientContext context;
    setup_.Prepare(&context);
    info.Clear();
    return stub_->StatSnapshot(&context, request, &info);
  });
  if (!status.ok()) {
    return FromGrpcStatus(status, absl::StrCat("StatSnapshot on ", options_.server_address));
  }
  return info;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
ChunkCacheClient::CheckHealth(const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  setup_.Prepare(&context);
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(channel_)->Check(&context, request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(status, absl::StrCat("health check on ", options_.server_address));
  }
  return response.status();
}

absl::StatusOr<StreamArchiveResult> ChunkCacheClient::StreamArchive(
    const v1::SnapshotRef& ref, ArchiveSink& sink, const StreamArchiveOptions& options) {
  const uint64_t request_size =
      options.request_size == 0 ? options_.max_read_bytes : options.request_size;
  if (options.max_in_flight < 1 || options.max_in_flight > kMaxInFlight) {
    return absl::InvalidArgumentError(
        absl::StrCat("requests in flight must be in 1..", kMaxInFlight));
  }
  if (request_size > static_cast<uint64_t>(kMaxReceiveMessageBytes) / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request size must be at most ", kMaxReceiveMessageBytes / 2, " bytes"));
  }
  StreamArchiveResult result;
  absl::StatusOr<v1::SnapshotInfo> info = Stat(ref);
  if (!info.ok()) return info.status();
  result.info = *std::move(info);
  ++result.requests;
  const uint64_t size = result.info.size();
  if (absl::Status begun = sink.Begin(size); !begun.ok()) return begun;
  if (options.on_progress) options.on_progress(0, size);

  const ByteConsumer to_sink = [&](uint64_t, std::string_view bytes) {
    if (absl::Status appended = sink.Append(bytes); !appended.ok()) return appended;
    result.bytes += bytes.size();
    if (options.on_progress) options.on_progress(result.bytes, size);
    return absl::OkStatus();
  };
  if (size > 0 && options.use_stream_range) {
    absl::StatusOr<uint64_t> streamed = StreamToCounting(ref, 0, size, to_sink, &result);
    if (!streamed.ok()) return streamed.status();
    result.max_in_flight_observed = 1;
    if (*streamed < size) {
      return absl::DataLossError(absl::StrCat("StreamRange on ", options_.server_address,
                                              ": the archive ended after ", *streamed,
                                              " bytes but StatSnapshot reported ", size));
    }
  } else if (size > 0) {
    PipelineStats stats;
    absl::Status read = ReadRangePipelined(
        *stub_, setup_, options_.retry, options_.server_address, ref, 0, size,
        PipelineOptions{.max_in_flight = options.max_in_flight, .request_size = request_size},
        to_sink, &stats);
    result.requests += stats.requests;
    result.retries += stats.retries;
    result.max_in_flight_observed = stats.max_in_flight_observed;
    if (!read.ok()) return read;
  }
  if (absl::Status finished = sink.Finish(); !finished.ok()) return finished;
  return result;
}

}  // namespace chunkcache
