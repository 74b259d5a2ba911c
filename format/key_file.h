// PBS key files (`KeyConfig` JSON, spec §5.1–5.2): kdf null, Scrypt or PBKDF2.
//
//   absl::StatusOr<RawKey> key = UnwrapKeyFile(json_text, password);
//
// Pure functions over the file's text; reading the file and its password is upstream/'s job.
#ifndef CHUNKCACHE_FORMAT_KEY_FILE_H_
#define CHUNKCACHE_FORMAT_KEY_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "format/crypt_config.h"

namespace chunkcache {

enum class KeyDerivation { kNone, kScrypt, kPbkdf2 };

struct KeyFileInfo {
  KeyDerivation kdf = KeyDerivation::kNone;
  std::optional<std::string> fingerprint_text;  // as stored, if present
  std::optional<std::string> hint;
  std::string created;
  std::string modified;
};

// Reads the header fields without unwrapping the key (no password needed).
absl::StatusOr<KeyFileInfo> InspectKeyFile(std::string_view json_text);

// Recovers the raw key. `password` is required for Scrypt/PBKDF2 files (at least 5 bytes)
// and ignored for kdf null. A stored fingerprint that does not match the key is an error.
absl::StatusOr<RawKey> UnwrapKeyFile(std::string_view json_text,
                                     std::optional<std::string_view> password);

// Writes a key file for `raw_key`. kNone stores the key as is; kScrypt/kPbkdf2 wrap it with
// `password` using PBS's parameters (scrypt N=65536 r=8 p=1, PBKDF2 65535 iterations) and a
// random 32-byte salt. `now_rfc3339` fills created/modified.
absl::StatusOr<std::string> CreateKeyFile(const RawKey& raw_key, KeyDerivation kdf,
                                          std::optional<std::string_view> password,
                                          std::string_view now_rfc3339);

// A fresh random 32-byte key from the OS CSPRNG. All zero in the (practically impossible)
// case that the CSPRNG fails; TryGenerateRawKey reports that as an error instead.
RawKey GenerateRawKey();
absl::StatusOr<RawKey> TryGenerateRawKey();

// The key derivations themselves (spec §5.2), without the 5-byte password minimum that
// UnwrapKeyFile and CreateKeyFile apply. Scrypt refuses parameters needing over 1025 MiB.
absl::StatusOr<RawKey> DeriveKeyScrypt(std::string_view password, std::string_view salt, uint64_t n,
                                       uint64_t r, uint64_t p);
absl::StatusOr<RawKey> DeriveKeyPbkdf2(std::string_view password, std::string_view salt,
                                       uint64_t iterations);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_KEY_FILE_H_
