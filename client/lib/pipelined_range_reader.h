// ReadRangePipelined: reads [offset, offset + length) of an archive with up to `max_in_flight`
// unary ReadRange calls outstanding at once, and hands the bytes to a consumer strictly in
// archive order. One thread drives a gRPC completion queue; nothing blocks while requests are
// in flight.
//
// The window also bounds memory: piece i is only requested once every piece before
// i - max_in_flight has been consumed, so at most max_in_flight * request_size bytes wait for
// reordering. A piece that fails with a retryable code is requested again after a backoff
// (RetryPolicy) while the others proceed; a short answer without eof is followed by a request
// for the rest. The range must exist: eof before its end is DATA_LOSS, OUT_OF_RANGE is an error.
//
//   PipelineStats stats;
//   absl::Status status = ReadRangePipelined(*stub, setup, retry, "host:7000", ref, 0, size,
//                                            {.max_in_flight = 8, .request_size = 4 << 20},
//                                            consume, &stats);
#ifndef CHUNKCACHE_CLIENT_LIB_PIPELINED_RANGE_READER_H_
#define CHUNKCACHE_CLIENT_LIB_PIPELINED_RANGE_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "client/lib/byte_consumer.h"
#include "client/lib/client_channel.h"
#include "client/lib/retry_policy.h"

namespace chunkcache {

struct PipelineOptions {
  int max_in_flight = 8;
  uint64_t request_size = uint64_t{4} << 20;
};

struct PipelineStats {
  uint64_t requests = 0;           // ReadRange calls started, retries included
  uint64_t retries = 0;            // of which repeated after a retryable failure
  int max_in_flight_observed = 0;  // most calls outstanding at one time
};

absl::Status ReadRangePipelined(v1::ChunkCache::StubInterface& stub, const CallSetup& setup,
                                const RetryPolicy& retry, const std::string& server,
                                const v1::SnapshotRef& ref, uint64_t offset, uint64_t length,
                                const PipelineOptions& options, const ByteConsumer& consume,
                                PipelineStats* stats);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_PIPELINED_RANGE_READER_H_
