#include "upstream/key_source.h"

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"
#include "format/key_file.h"
#include "upstream/confined_fs.h"
#include "upstream/unique_fd.h"

namespace chunkcache {
namespace {

// Key files are a few hundred bytes; anything much larger is not one.
constexpr size_t kMaxKeyFileSize = 64 * 1024;
constexpr size_t kMaxPasswordFileSize = 64 * 1024;

absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_size,
                                          std::string_view what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrFormat("%s %s does not exist", what, path.string()));
    }
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot open %s %s: %s", what, path.string(), std::strerror(err)));
  }
  absl::StatusOr<std::string> bytes = ReadRegularFile(fd.get(), max_size, path.string());
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrFormat("%s %s", what, bytes.status().message()));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ReadPassword(const PasswordSource& source) {
  if (source.file.has_value() && source.env_var.has_value()) {
    return absl::InvalidArgumentError(
        "give the password either in a file or in an environment variable, not both");
  }
  if (source.file.has_value()) {
    absl::StatusOr<std::string> text =
        ReadSmallFile(*source.file, kMaxPasswordFileSize, "password file");
    if (!text.ok()) return text.status();
    std::string password = std::move(*text);
    if (password.ends_with('\n')) password.pop_back();
    if (password.ends_with('\r')) password.pop_back();
    return std::optional<std::string>(std::move(password));
  }
  if (source.env_var.has_value()) {
    const char* value = std::getenv(source.env_var->c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "environment variable %s (the key password) is not set", *source.env_var));
    }
    return std::optional<std::string>(value);
  }
  return std::optional<std::string>();
}

absl::StatusOr<CryptConfig> LoadCryptConfig(const std::filesystem::path& key_file,
                                            const PasswordSource& password) {
  absl::StatusOr<std::string> text = ReadSmallFile(key_file, kMaxKeyFileSize, "key file");
  if (!text.ok()) return text.status();
  absl::StatusOr<KeyFileInfo> info = InspectKeyFile(*text);
  if (!info.ok()) {
    return absl::Status(info.status().code(), absl::StrFormat("key file %s: %s", key_file.string(),
                                                              info.status().message()));
  }
  std::optional<std::string> password_text;
  if (info->kdf != KeyDerivation::kNone) {
    absl::StatusOr<std::optional<std::string>> read = ReadPassword(password);
    if (!read.ok()) return read.status();
    if (!read->has_value()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "key file %s is protected by a password (kdf %s) and no password was given%s",
          key_file.string(), info->kdf == KeyDerivation::kScrypt ? "scrypt" : "pbkdf2",
          info->hint.has_value() ? absl::StrFormat(" (hint: %s)", *info->hint) : ""));
    }
    password_text = std::move(*read);
  }
  absl::StatusOr<RawKey> raw = UnwrapKeyFile(*text, password_text);
  if (!raw.ok()) {
    return absl::Status(raw.status().code(), absl::StrFormat("key file %s: %s", key_file.string(),
                                                             raw.status().message()));
  }
  return CryptConfig::FromRawKey(*raw);
}

}  // namespace chunkcache
