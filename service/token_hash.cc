#include "service/token_hash.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {

TokenHash TokenSha256(std::string_view token) {
  TokenHash hash{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());
  return hash;
}

std::string TokenSha256Hex(std::string_view token) {
  const TokenHash hash = TokenSha256(token);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

absl::StatusOr<TokenHash> ParseTokenHash(std::string_view hex, std::string_view field) {
  bool all_hex = hex.size() == 64;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) all_hex = false;
  }
  if (!all_hex) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), ": expected the SHA-256 of a token as 64 hex characters (got ",
                     hex.size(), " characters); print it with `chunkcached --print-token-hash`"));
  }
  const std::string bytes = absl::HexStringToBytes(ToAbsl(hex));
  TokenHash hash{};
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(bytes[i]);
  return hash;
}

bool TokenMatches(const TokenHash& presented, const TokenHash& configured) {
  return CRYPTO_memcmp(presented.data(), configured.data(), presented.size()) == 0;
}

}  // namespace chunkcache
