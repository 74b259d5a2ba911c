#include "format/digest.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {

absl::StatusOr<ChunkDigest> ChunkDigest::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("a chunk digest is 64 hex characters, got ", hex.size(), " characters"));
  }
  bool all_hex = std::all_of(hex.begin(), hex.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (!all_hex) {
    return absl::InvalidArgumentError(absl::StrCat("chunk digest '", absl::CHexEscape(ToAbsl(hex)),
                                                   "' contains a non-hex character"));
  }
  return FromBytes(absl::HexStringToBytes(ToAbsl(hex)));
}

ChunkDigest ChunkDigest::FromBytes(std::string_view raw) {
  ChunkDigest digest;
  // Callers pass exactly 32 bytes; copying at most that many keeps a wrong length harmless.
  std::memcpy(digest.bytes.data(), raw.data(), std::min(raw.size(), digest.bytes.size()));
  return digest;
}

std::string ChunkDigest::Hex() const { return absl::BytesToHexString(ToAbsl(AsBytes())); }

std::string ChunkDigest::ShortHex() const {
  return absl::StrCat(absl::BytesToHexString(ToAbsl(AsBytes().substr(0, 4))), "…");
}

ChunkDigest Sha256(std::string_view data) {
  ChunkDigest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.bytes.data());
  return digest;
}

}  // namespace chunkcache
