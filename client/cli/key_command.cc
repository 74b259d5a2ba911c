#include "client/cli/key_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "client/cli/command_status.h"
#include "client/cli/fd_io.h"
#include "client/cli/key_options.h"
#include "format/crypt_config.h"
#include "format/key_file.h"
#include "upstream/confined_fs.h"
#include "upstream/unique_fd.h"

namespace chunkcache {
namespace {

constexpr mode_t kKeyFileMode = 0600;

struct KeyCreateOptions {
  std::string out;
  KeyDerivation kdf = KeyDerivation::kNone;
  KeyOptions password;
  bool force = false;
};

std::string_view KdfName(KeyDerivation kdf) {
  switch (kdf) {
    case KeyDerivation::kNone:
      return "none";
    case KeyDerivation::kScrypt:
      return "scrypt";
    case KeyDerivation::kPbkdf2:
      return "pbkdf2";
  }
  return "?";
}

// Local time with a numeric offset, as PBS writes "created": 2026-01-01T00:00:00+01:00.
std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[64];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S%z", &local);
  std::string result(text, n);
  if (result.size() >= 5) result.insert(result.size() - 2, ":");  // +0100 -> +01:00
  return result;
}

absl::Status WriteNewFile(const std::filesystem::path& path, std::string_view bytes) {
  UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kKeyFileMode));
  if (!fd.valid()) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "%s already exists; pass --force to replace it (the old key is lost)", path.string()));
    }
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot create %s: %s", path.string(), std::strerror(errno)));
  }
  absl::Status written = WriteAll(fd.get(), bytes, path.string());
  if (written.ok() && ::close(fd.Release()) != 0) {
    written = absl::UnavailableError(
        absl::StrFormat("writing %s failed: %s", path.string(), std::strerror(errno)));
  }
  if (!written.ok()) ::unlink(path.c_str());
  return written;
}

absl::Status ReplaceFile(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::path parent = path.parent_path();
  if (parent.empty()) parent = ".";
  UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot open directory %s: %s", parent.string(), std::strerror(errno)));
  }
  return WriteFileAtomically(dir.get(), path.filename().string(), bytes, kKeyFileMode,
                             path.string());
}

absl::Status RunKeyCreate(const KeyCreateOptions& options) {
  const bool needs_password = options.kdf != KeyDerivation::kNone;
  const PasswordSource source = options.password.password_source();
  if (needs_password && source.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--kdf %s needs --password-file or --password-env", KdfName(options.kdf)));
  }
  if (!needs_password && !source.empty()) {
    return absl::InvalidArgumentError(
        "a password only protects a key with --kdf scrypt or --kdf pbkdf2");
  }
  absl::StatusOr<std::optional<std::string>> password = ReadPassword(source);
  if (!password.ok()) return password.status();

  const RawKey raw_key = GenerateRawKey();
  absl::StatusOr<std::string> file_text =
      CreateKeyFile(raw_key, options.kdf, *password, NowRfc3339());
  if (!file_text.ok()) return file_text.status();

  const std::filesystem::path out(options.out);
  absl::Status written =
      options.force ? ReplaceFile(out, *file_text) : WriteNewFile(out, *file_text);
  if (!written.ok()) return written;
  const CryptConfig config = CryptConfig::FromRawKey(raw_key);
  std::printf("created key file %s (kdf %s), fingerprint %s\n", out.c_str(),
              std::string(KdfName(options.kdf)).c_str(), config.FingerprintText().c_str());
  return absl::OkStatus();
}

}  // namespace

void RegisterKeyCommand(CLI::App& app) {
  CLI::App* key = app.add_subcommand("key", "PBS encryption key files");
  key->require_subcommand(1);

  auto options = std::make_shared<KeyCreateOptions>();
  CLI::App* create = key->add_subcommand("create", "Create a new random key file");
  create->add_option("--out", options->out, "Key file to write (mode 0600)")->required();
  const std::map<std::string, KeyDerivation> kdfs = {{"none", KeyDerivation::kNone},
                                                     {"scrypt", KeyDerivation::kScrypt},
                                                     {"pbkdf2", KeyDerivation::kPbkdf2}};
  create->add_option("--kdf", options->kdf, "Password protection: none (default), scrypt, pbkdf2")
      ->transform(CLI::CheckedTransformer(kdfs, CLI::ignore_case));
  AddPasswordOptions(create, &options->password);
  create->add_flag("--force", options->force, "Replace an existing file");
  SetCommandBody(create, [options] { return RunKeyCreate(*options); });
}

}  // namespace chunkcache
