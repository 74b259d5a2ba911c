#include "format/decode_error.h"

#include <string>

#include "absl/strings/cord.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

// The payload key under which the reason travels with the status.
constexpr std::string_view kReasonPayloadUrl = "type.chunkcache/chunkcache.DecodeErrorReason";

constexpr DecodeErrorReason kAllReasons[] = {
    DecodeErrorReason::kCrc,     DecodeErrorReason::kDigest, DecodeErrorReason::kDecompress,
    DecodeErrorReason::kDecrypt, DecodeErrorReason::kFormat,
};

}  // namespace

std::string_view DecodeErrorReasonName(DecodeErrorReason reason) {
  switch (reason) {
    case DecodeErrorReason::kCrc:
      return "crc";
    case DecodeErrorReason::kDigest:
      return "digest";
    case DecodeErrorReason::kDecompress:
      return "decompress";
    case DecodeErrorReason::kDecrypt:
      return "decrypt";
    case DecodeErrorReason::kFormat:
      return "format";
  }
  return "format";
}

absl::Status DecodeError(DecodeErrorReason reason, std::string_view message) {
  return DecodeError(reason, absl::StatusCode::kDataLoss, message);
}

absl::Status DecodeError(DecodeErrorReason reason, absl::StatusCode code,
                         std::string_view message) {
  absl::Status status(code, ToAbsl(message));
  status.SetPayload(ToAbsl(kReasonPayloadUrl), absl::Cord(ToAbsl(DecodeErrorReasonName(reason))));
  return status;
}

std::optional<DecodeErrorReason> GetDecodeErrorReason(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(ToAbsl(kReasonPayloadUrl));
  if (!payload.has_value()) return std::nullopt;
  for (DecodeErrorReason reason : kAllReasons) {
    if (*payload == ToAbsl(DecodeErrorReasonName(reason))) return reason;
  }
  return std::nullopt;
}

}  // namespace chunkcache
