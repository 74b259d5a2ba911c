#include "client/cli/key_options.h"

namespace chunkcache {

PasswordSource KeyOptions::password_source() const {
  PasswordSource source;
  if (!password_file.empty()) source.file = password_file;
  if (!password_env.empty()) source.env_var = password_env;
  return source;
}

void AddPasswordOptions(CLI::App* command, KeyOptions* options) {
  CLI::Option* file = command->add_option("--password-file", options->password_file,
                                          "File holding the key's password (one trailing "
                                          "newline is ignored)");
  CLI::Option* env = command->add_option("--password-env", options->password_env,
                                         "Environment variable holding the key's password");
  file->excludes(env);
}

void AddKeyOptions(CLI::App* command, KeyOptions* options) {
  command->add_option("--keyfile", options->keyfile,
                      "PBS key file (JSON) of an encrypted datastore");
  AddPasswordOptions(command, options);
}

absl::StatusOr<std::optional<CryptConfig>> LoadKey(const KeyOptions& options) {
  if (options.keyfile.empty()) {
    if (!options.password_source().empty()) {
      return absl::InvalidArgumentError("a password option needs --keyfile");
    }
    return std::optional<CryptConfig>();
  }
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(options.keyfile, options.password_source());
  if (!key.ok()) {
    // A missing password is the user's to fix with an option: say which ones.
    if (absl::IsFailedPrecondition(key.status()) && options.password_source().empty()) {
      return absl::FailedPreconditionError(std::string(key.status().message()) +
                                           ": pass --password-file or --password-env");
    }
    return key.status();
  }
  return std::optional<CryptConfig>(std::move(*key));
}

}  // namespace chunkcache
