// Why a blob failed to decode. Every decode failure is an absl::Status with code DATA_LOSS
// (the stored bytes are bad) or FAILED_PRECONDITION (a key is missing), carrying one of these
// reasons as a payload so the service can count decode errors by reason without parsing text.
#ifndef CHUNKCACHE_FORMAT_DECODE_ERROR_H_
#define CHUNKCACHE_FORMAT_DECODE_ERROR_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace chunkcache {

enum class DecodeErrorReason {
  kCrc,         // CRC32 of the payload does not match the header
  kDigest,      // decoded bytes do not hash to the expected digest (or have the wrong length)
  kDecompress,  // zstd failed, or the output would exceed the size cap
  kDecrypt,     // AES-GCM tag check failed (wrong key or tampering), or the key is missing
  kFormat,      // too small, unknown magic, crypt mode that does not match the index
};

// "crc", "digest", "decompress", "decrypt", "format": the metric label values.
std::string_view DecodeErrorReasonName(DecodeErrorReason reason);

// Builds a DATA_LOSS status carrying `reason`.
absl::Status DecodeError(DecodeErrorReason reason, std::string_view message);
// The same with another code, e.g. FAILED_PRECONDITION for a missing key.
absl::Status DecodeError(DecodeErrorReason reason, absl::StatusCode code, std::string_view message);

// The reason attached by DecodeError, if any.
std::optional<DecodeErrorReason> GetDecodeErrorReason(const absl::Status& status);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_DECODE_ERROR_H_
