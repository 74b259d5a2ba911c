#include "service/range_call.h"

#include <utility>

#include "absl/hash/hash.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "service/call_reactor.h"
#include "service/request_decoding.h"

namespace chunkcache {

absl::Status BeginRangeCall(const ArchiveResolver& resolver,
                            const grpc::CallbackServerContext& context,
                            const grpc::ByteBuffer& request_bytes,
                            absl::FunctionRef<absl::Status(uint64_t length)> check_length,
                            RangeCall* call) {
  // A call the client cancelled before its request arrived has an empty request, which would
  // otherwise be reported as an invalid one.
  if (context.IsCancelled()) return CancelledCallStatus(context);
  absl::StatusOr<v1::ReadRangeRequest> request = DecodeRequest<v1::ReadRangeRequest>(request_bytes);
  if (!request.ok()) return request.status();
  call->offset = request->offset();
  call->length = request->length();
  absl::StatusOr<ArchiveRequest> archive = resolver.Check(context, request->snapshot());
  if (!archive.ok()) return archive.status();
  call->request = *std::move(archive);
  call->requester = absl::HashOf(call->request->client.empty() ? context.peer()
                                                               : "client:" + call->request->client);
  if (absl::Status length_ok = check_length(call->length); !length_ok.ok()) return length_ok;
  call->session = resolver.FindOpen(*call->request);
  return absl::OkStatus();
}

}  // namespace chunkcache
