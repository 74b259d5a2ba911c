// CryptConfig: the keys derived from a PBS encryption key (spec §5.3).
//
//   auto config = CryptConfig::FromRawKey(raw_key);     // 32 bytes
//   ChunkDigest d = config.ChunkDigestOf(plaintext);     // SHA-256(plaintext ‖ id_key)
//
// Key material is never logged; the fingerprint is the only safe way to name a key.
#ifndef CHUNKCACHE_FORMAT_CRYPT_CONFIG_H_
#define CHUNKCACHE_FORMAT_CRYPT_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "format/digest.h"

namespace chunkcache {

using RawKey = std::array<uint8_t, 32>;

class CryptConfig {
 public:
  // `raw_key` must be 32 bytes (INVALID_ARGUMENT otherwise).
  static absl::StatusOr<CryptConfig> FromRawKey(std::string_view raw_key);
  static CryptConfig FromRawKey(const RawKey& raw_key);

  const RawKey& enc_key() const { return enc_key_; }
  // PBKDF2-HMAC-SHA256(enc_key, "_id_key", 10 iterations, 32 bytes).
  const RawKey& id_key() const { return id_key_; }
  // SHA-256(SHA-256("Proxmox Backup Encryption Key Fingerprint") ‖ id_key).
  const RawKey& fingerprint() const { return fingerprint_; }
  // "0e:ab:d4:…" — 32 colon-separated lowercase hex bytes, as PBS prints it.
  std::string FingerprintText() const;

  // SHA-256(plaintext ‖ id_key): the digest of an encrypted chunk.
  ChunkDigest ChunkDigestOf(std::string_view plaintext) const;
  // HMAC-SHA256(id_key, message): the manifest signature.
  RawKey AuthTag(std::string_view message) const;

 private:
  RawKey enc_key_{};
  RawKey id_key_{};
  RawKey fingerprint_{};
};

// Parses a fingerprint written as 32 colon-separated hex bytes ("0e:ab:…", either case).
// INVALID_ARGUMENT otherwise.
absl::StatusOr<RawKey> ParseFingerprintText(std::string_view text);

// The digest of `plaintext` as it would appear in an index: plain SHA-256 without a key,
// SHA-256(plaintext ‖ id_key) with one.
ChunkDigest ChunkDigestOf(std::string_view plaintext, const CryptConfig* key);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_CRYPT_CONFIG_H_
