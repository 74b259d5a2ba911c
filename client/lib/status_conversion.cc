#include "client/lib/status_conversion.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace chunkcache {

absl::StatusCode FromGrpcCode(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  // gRPC and Abseil share the canonical codes 0 (OK) .. 16 (UNAUTHENTICATED).
  if (value < 0 || value > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(value);
}

absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (message.empty()) message = "(no message from the server)";
  if (context.empty()) return absl::Status(FromGrpcCode(status.error_code()), message);
  return absl::Status(FromGrpcCode(status.error_code()), absl::StrCat(context, ": ", message));
}

}  // namespace chunkcache
