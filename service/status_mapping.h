// The one place where an absl::Status from the cache, the upstreams or the service's own
// checks becomes the grpc::Status a client sees. Codes are the same numbers in both libraries
// (OK..UNAUTHENTICATED); the message is passed through unchanged, so a client reads what the
// layer that failed said ("offset 99 is at or past the end of ...").
//
//   grpc::Status status = ToGrpcStatus(session.status());
#ifndef CHUNKCACHE_SERVICE_STATUS_MAPPING_H_
#define CHUNKCACHE_SERVICE_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string_view>

#include "absl/status/status.h"

namespace chunkcache {

grpc::Status ToGrpcStatus(const absl::Status& status);

// "OK", "NOT_FOUND", ...: the metrics' `code` label and the logs' code= field.
std::string_view StatusCodeName(absl::StatusCode code);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_STATUS_MAPPING_H_
