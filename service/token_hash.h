// Bearer tokens are configured as their SHA-256 (hex), never in clear, and compared in
// constant time so that response timing does not reveal how much of a hash matched.
//
//   std::string hash = TokenSha256Hex("s3cret");        // what goes into the config file
//   TokenHash configured = *ParseTokenHash(hash, "clients[0].token_sha256");
//   bool match = TokenMatches(TokenSha256(presented), configured);
#ifndef CHUNKCACHE_SERVICE_TOKEN_HASH_H_
#define CHUNKCACHE_SERVICE_TOKEN_HASH_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache {

using TokenHash = std::array<uint8_t, 32>;

TokenHash TokenSha256(std::string_view token);
std::string TokenSha256Hex(std::string_view token);

// 64 hex characters (either case). INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<TokenHash> ParseTokenHash(std::string_view hex, std::string_view field);

// Constant-time equality (CRYPTO_memcmp).
bool TokenMatches(const TokenHash& presented, const TokenHash& configured);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_TOKEN_HASH_H_
