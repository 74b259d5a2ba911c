// ChunkCacheClient: the C++ client of the chunkcache gRPC API (chunkcache.v1.ChunkCache).
// Thread-safe: one client (one channel) may be shared by many threads.
//
//   absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(options);
//   v1::SnapshotRef ref;  // datastore, namespace, backup type/id/time, archive
//   absl::StatusOr<v1::SnapshotInfo> info = (*client)->Stat(ref);
//   absl::StatusOr<std::string> head = (*client)->Read(ref, 0, 1 << 20);
//   absl::StatusOr<StreamArchiveResult> done = (*client)->StreamArchive(ref, sink, {});
//
// Every call retries UNAVAILABLE according to options.retry (see retry_policy.h) and returns
// the server's status code with "<rpc> at offset N on <server>: <message>" otherwise.
#ifndef CHUNKCACHE_CLIENT_LIB_CHUNKCACHE_CLIENT_H_
#define CHUNKCACHE_CLIENT_LIB_CHUNKCACHE_CLIENT_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "client/lib/archive_sink.h"
#include "client/lib/byte_consumer.h"
#include "client/lib/client_channel.h"
#include "client/lib/client_options.h"

namespace chunkcache {

struct StreamArchiveOptions {
  // Unary ReadRange calls outstanding at once (1..kMaxInFlight). Ignored with StreamRange.
  int max_in_flight = 8;
  // Bytes per ReadRange call; 0 means the client's max_read_bytes.
  uint64_t request_size = 0;
  // One StreamRange call (resumed where it broke off after a retryable failure) instead of
  // windowed ReadRange calls.
  bool use_stream_range = false;
  // Called after each piece reaches the sink (and once with 0 before the first).
  std::function<void(uint64_t bytes_done, uint64_t bytes_total)> on_progress;
};

inline constexpr int kMaxInFlight = 256;

struct StreamArchiveResult {
  v1::SnapshotInfo info;  // what StatSnapshot said about the archive
  uint64_t bytes = 0;     // bytes given to the sink (= info.size())
  uint64_t requests = 0;  // RPCs started, retries included
  uint64_t retries = 0;   // RPCs repeated after a retryable failure
  int max_in_flight_observed = 0;
};

class ChunkCacheClient {
 public:
  // Validates the options and creates the channel (see CreateClientChannel).
  static absl::StatusOr<std::unique_ptr<ChunkCacheClient>> Connect(const ClientOptions& options);

  // Over an existing channel (in-process servers); the TLS fields of `options` are ignored.
  static absl::StatusOr<std::unique_ptr<ChunkCacheClient>> ForChannel(
      std::shared_ptr<grpc::ChannelInterface> channel, const ClientOptions& options);

  // One ReadRange call (with retries): at most `length` bytes at `offset`, fewer with eof set
  // when the range runs past the end. The server rejects a length of 0 or over its
  // max_read_bytes (INVALID_ARGUMENT) and an offset at or past the end (OUT_OF_RANGE).
  absl::StatusOr<v1::ReadRangeResponse> ReadRange(const v1::SnapshotRef& ref, uint64_t offset,
                                                  uint64_t length);

  // Any length, as consecutive ReadRange calls of at most max_read_bytes, each piece handed
  // to `consume` as it arrives. Stops at the end of the archive; returns the bytes delivered
  // (fewer than `length` only at the end). OUT_OF_RANGE when `offset` is at or past the end.
  absl::StatusOr<uint64_t> ReadTo(const v1::SnapshotRef& ref, uint64_t offset, uint64_t length,
                                  const ByteConsumer& consume);

  // ReadTo into one string.
  absl::StatusOr<std::string> Read(const v1::SnapshotRef& ref, uint64_t offset, uint64_t length);

  // ReadTo with one StreamRange call. A retryable failure mid-stream resumes after the last
  // byte received; a stream silent for options.rpc_deadline is DEADLINE_EXCEEDED.
  absl::StatusOr<uint64_t> StreamTo(const v1::SnapshotRef& ref, uint64_t offset, uint64_t length,
                                    const ByteConsumer& consume);

  absl::StatusOr<v1::SnapshotInfo> Stat(const v1::SnapshotRef& ref);

  // grpc.health.v1.Health/Check for `service` ("" = the whole server: SERVING while every
  // datastore is readable; "liveness" = SERVING while the process runs and is not shutting
  // down). No retries: a health check reports the state at this moment.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
      const std::string& service);

  // The whole archive, in order, into `sink`: StatSnapshot for the size, then windowed
  // ReadRange calls (at most max_in_flight outstanding, reassembled in order) or StreamRange.
  // DATA_LOSS when the server's bytes end before the size it reported.
  absl::StatusOr<StreamArchiveResult> StreamArchive(const v1::SnapshotRef& ref, ArchiveSink& sink,
                                                    const StreamArchiveOptions& options);

  const ClientOptions& options() const { return options_; }

 private:
  ChunkCacheClient(std::shared_ptr<grpc::ChannelInterface> channel, ClientOptions options);

  absl::StatusOr<uint64_t> StreamToCounting(const v1::SnapshotRef& ref, uint64_t offset,
                                            uint64_t length, const ByteConsumer& consume,
                                            StreamArchiveResult* counters);

  ClientOptions options_;
  CallSetup setup_;
  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<v1::ChunkCache::Stub> stub_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_CHUNKCACHE_CLIENT_H_
