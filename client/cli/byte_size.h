// Byte counts as people write them on a command line, and as the CLI prints them.
//
//   ParseByteSize("4MiB")   -> 4194304      ParseByteSize("64k")  -> 65536
//   ParseByteSize("1GB")    -> 1000000000   ParseByteSize("4096") -> 4096
//   FormatBytes(1610612736) -> "1.50 GiB"   FormatBytes(512)      -> "512 B"
#ifndef CHUNKCACHE_CLIENT_CLI_BYTE_SIZE_H_
#define CHUNKCACHE_CLIENT_CLI_BYTE_SIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache {

// A whole number with an optional unit (case-insensitive, optionally after one space):
// B; K, KiB, M, MiB, G, GiB, T, TiB (powers of 1024); KB, MB, GB, TB (powers of 1000).
// INVALID_ARGUMENT naming `flag` for anything else or a value over 2^64 - 1.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text, std::string_view flag = "size");

// Powers of 1024 with two decimals ("4.00 MiB"); plain bytes below 1 KiB ("512 B").
std::string FormatBytes(uint64_t bytes);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_BYTE_SIZE_H_
