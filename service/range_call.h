// RangeCall and BeginRangeCall: the first steps of a ReadRange or a StreamRange call, which take
// the same ReadRangeRequest — decode it, check the archive it names (names, authorization,
// datastore: no I/O), and take the archive's session if it is open already. Opening it (which
// reads the manifest and index from the upstream, and may block for seconds) is the
// reactor's next step, through the service's ArchiveOpener, never on the gRPC thread.
//
//   absl::Status begun = BeginRangeCall(*deps_.resolver, *context_, request_bytes,
//                                       [](uint64_t length) { return absl::OkStatus(); }, &call_);
//   if (!begun.ok()) return Complete(begun);  // call_ holds what got through, for the log
//   WithSession(&call_.session, *call_.request, [this] { Read(); });  // CallReactor
#ifndef CHUNKCACHE_SERVICE_RANGE_CALL_H_
#define CHUNKCACHE_SERVICE_RANGE_CALL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "cache/snapshot_session.h"
#include "service/archive_resolver.h"

namespace chunkcache {

// A range call's request as far as BeginRangeCall got with it.
struct RangeCall {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::optional<ArchiveRequest> request;     // set once the archive is checked
  std::shared_ptr<SnapshotSession> session;  // set once the archive is open
  // Who reads, for the cache's fair fetch queue (ChunkRequest::requester): a hash of the
  // client's configured name, or without authentication of its connection's peer address.
  uint64_t requester = 0;
};

// Fills `call` step by step and returns the first failure; `call->session` is left null when
// the archive is not open yet. `check_length` vets the requested length once the archive is
// checked and before it is opened, so that a length the method refuses costs no index read.
absl::Status BeginRangeCall(const ArchiveResolver& resolver,
                            const grpc::CallbackServerContext& context,
                            const grpc::ByteBuffer& request_bytes,
                            absl::FunctionRef<absl::Status(uint64_t length)> check_length,
                            RangeCall* call);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_RANGE_CALL_H_
