// Loading a PBS encryption key (spec §5) from a key file plus, for password-protected key
// files, a password from a file or an environment variable.
//
//   absl::StatusOr<CryptConfig> key = LoadCryptConfig(
//       "/etc/pve/priv/storage/pbs.enc", PasswordSource{.env_var = "PBS_ENCRYPTION_PASSWORD"});
//
// A password file holds the password; one trailing "\n" (or "\r\n") is not part of it, so
// `echo secret > file` works. A key file with kdf none needs no password and ignores one.
// Errors name the file or variable: NOT_FOUND (key or password file missing),
// FAILED_PRECONDITION (a password is needed and none was given, or the variable is unset),
// INVALID_ARGUMENT (both a password file and a variable given), and the format library's
// errors for a malformed key file or a wrong password.
#ifndef CHUNKCACHE_UPSTREAM_KEY_SOURCE_H_
#define CHUNKCACHE_UPSTREAM_KEY_SOURCE_H_

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "format/crypt_config.h"

namespace chunkcache {

// Where the password of a key file comes from: at most one of the two.
struct PasswordSource {
  std::optional<std::filesystem::path> file;
  std::optional<std::string> env_var;

  bool empty() const { return !file.has_value() && !env_var.has_value(); }
};

// The password from `source`, or nullopt when `source` is empty.
absl::StatusOr<std::optional<std::string>> ReadPassword(const PasswordSource& source);

// Reads and unwraps `key_file` and derives the CryptConfig.
absl::StatusOr<CryptConfig> LoadCryptConfig(const std::filesystem::path& key_file,
                                            const PasswordSource& password);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_KEY_SOURCE_H_
