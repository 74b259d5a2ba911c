// ChunkDigest: the 32-byte SHA-256 name of a chunk, as stored in index files and used as
// the cache key. Written as 64 lowercase hex characters wherever it appears as text.
#ifndef CHUNKCACHE_FORMAT_DIGEST_H_
#define CHUNKCACHE_FORMAT_DIGEST_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache {

struct ChunkDigest {
  std::array<uint8_t, 32> bytes{};

  // Parses exactly 64 hex characters (either case); anything else is INVALID_ARGUMENT.
  static absl::StatusOr<ChunkDigest> FromHex(std::string_view hex);
  // Takes 32 raw bytes; `raw` must be exactly 32 bytes long.
  static ChunkDigest FromBytes(std::string_view raw);

  std::string Hex() const;         // 64 lowercase hex characters
  std::string ShortHex() const;    // first 4 bytes + "…", for log lines and error messages
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  friend bool operator==(const ChunkDigest&, const ChunkDigest&) = default;
  friend auto operator<=>(const ChunkDigest&, const ChunkDigest&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const ChunkDigest& d) {
    // Digests are uniformly distributed already: the first 8 bytes are a good hash.
    uint64_t prefix;
    std::memcpy(&prefix, d.bytes.data(), sizeof(prefix));
    return H::combine(std::move(h), prefix);
  }
};

// Plain SHA-256 of `data` (OpenSSL, which uses the CPU's SHA extensions when present).
ChunkDigest Sha256(std::string_view data);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_DIGEST_H_
