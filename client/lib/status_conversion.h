// The one place where a gRPC status becomes an absl::Status. The codes are the same numbers
// in both libraries; the message gets the RPC and server as context, so that an error printed
// by a tool says which call failed against which server.
//
//   grpc::Status status = stub->StatSnapshot(&context, request, &info);
//   if (!status.ok()) return FromGrpcStatus(status, "StatSnapshot on host:7000");
//   // -> NOT_FOUND "StatSnapshot on host:7000: archive drive-scsi0.img.fidx not found"
#ifndef CHUNKCACHE_CLIENT_LIB_STATUS_CONVERSION_H_
#define CHUNKCACHE_CLIENT_LIB_STATUS_CONVERSION_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace chunkcache {

absl::StatusCode FromGrpcCode(grpc::StatusCode code);

// OK stays OK (without context); an error keeps its code and becomes "<context>: <message>".
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_STATUS_CONVERSION_H_
