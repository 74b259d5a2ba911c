// Byte counts in chunkcached's config file and flags: "4194304", "256MiB", "8GiB", "64KiB".
//
//   absl::StatusOr<uint64_t> capacity = ParseByteSize("8GiB", "cache.capacity");  // 8 << 30
//   std::string text = FormatByteSize(capacity);                                  // "8GiB"
//
// Units (case-insensitive, optionally after spaces): B; KiB, MiB, GiB, TiB and K, M, G, T
// (powers of 1024); KB, MB, GB, TB (powers of 1000). A whole number is required.
#ifndef CHUNKCACHE_SERVICE_BYTE_SIZE_H_
#define CHUNKCACHE_SERVICE_BYTE_SIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache {

// INVALID_ARGUMENT naming `field` for an empty, negative, fractional or unknown-unit value,
// or one above 2^64 - 1 bytes.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text, std::string_view field);

// The largest binary unit that divides `bytes` exactly ("4MiB", "5000B"): for log lines that
// can be pasted back into the config.
std::string FormatByteSize(uint64_t bytes);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_BYTE_SIZE_H_
