// The log line of an RPC that failed, at a level that says whose problem it is:
//  * the client's (bad names, lengths, offsets, unknown snapshots, cancelled calls): debug;
//  * access control (UNAUTHENTICATED, PERMISSION_DENIED): info, with the client;
//  * the server's or the datastore's (missing chunk files, unreadable upstreams, keys,
//    RESOURCE_EXHAUSTED): warn, event=upstream_error or read_failed;
//  * corrupt data (DATA_LOSS): error, event=corrupt_chunk, naming the chunk's full digest and
//    its file when the failed range identifies it.
//
//   LogRpcFailure({Rpc::kReadRange, &request, session.get(), offset, length}, status);
#ifndef CHUNKCACHE_SERVICE_RPC_EVENT_LOG_H_
#define CHUNKCACHE_SERVICE_RPC_EVENT_LOG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "cache/snapshot_session.h"
#include "service/archive_resolver.h"
#include "service/request_metrics.h"

namespace chunkcache {

struct RpcEvent {
  Rpc rpc = Rpc::kReadRange;
  const ArchiveRequest* request = nullptr;   // null when the request did not get that far
  const SnapshotSession* session = nullptr;  // null when the archive was not opened
  uint64_t offset = 0;
  uint64_t length = 0;
};

void LogRpcFailure(const RpcEvent& event, const absl::Status& status);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_RPC_EVENT_LOG_H_
