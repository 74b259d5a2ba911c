// The options that name an encryption key: --keyfile, and --password-file / --password-env for
// a password-protected key file. Shared by every command that reads or writes encrypted data.
//
//   auto key_options = std::make_shared<KeyOptions>();
//   AddKeyOptions(command, key_options.get());
//   ... after parsing:
//   absl::StatusOr<std::optional<CryptConfig>> key = LoadKey(*key_options);
#ifndef CHUNKCACHE_CLIENT_CLI_KEY_OPTIONS_H_
#define CHUNKCACHE_CLIENT_CLI_KEY_OPTIONS_H_

#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "format/crypt_config.h"
#include "upstream/key_source.h"

namespace chunkcache {

struct KeyOptions {
  std::string keyfile;
  std::string password_file;
  std::string password_env;

  PasswordSource password_source() const;
};

// Adds --password-file and --password-env (mutually exclusive) to `command`.
void AddPasswordOptions(CLI::App* command, KeyOptions* options);
// Adds --keyfile and the password options.
void AddKeyOptions(CLI::App* command, KeyOptions* options);

// The key named by the options, or nullopt without --keyfile. A password option without
// --keyfile is a usage error (INVALID_ARGUMENT).
absl::StatusOr<std::optional<CryptConfig>> LoadKey(const KeyOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_KEY_OPTIONS_H_
