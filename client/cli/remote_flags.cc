#include "client/cli/remote_flags.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/cli/snapshot_ref_parse.h"
#include "client/lib/client_channel.h"

namespace chunkcache {
namespace {

// A token file is a line or two; a much larger file is a mistake (a key, an image).
constexpr std::streamoff kMaxTokenFileBytes = std::streamoff{64} * 1024;
constexpr int kMaxRetries = 100;

}  // namespace

void AddConnectionFlags(CLI::App* command, RemoteFlags* flags) {
  command->add_option("--server", flags->server, "chunkcached address, HOST:PORT")
      ->envname("CHUNKCACHE_SERVER")
      ->required();
  command->add_flag("--tls", flags->tls, "Connect with TLS (verifies the server certificate)");
  command->add_option("--ca", flags->ca_file, "PEM CA certificate(s) to verify the server with")
      ->check(CLI::ExistingFile);
  CLI::Option* cert =
      command->add_option("--cert", flags->cert_file, "PEM client certificate (mutual TLS)")
          ->check(CLI::ExistingFile);
  CLI::Option* key = command->add_option("--key", flags->key_file, "PEM client private key")
                         ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  command->add_option("--tls-server-name", flags->tls_server_name,
                      "Name to verify in the server certificate instead of the host");
  CLI::Option* token_file = command->add_option("--token-file", flags->token_file,
                                                "File with the bearer token sent to the server");
  CLI::Option* token_env = command->add_option("--token-env", flags->token_env,
                                               "Environment variable holding the bearer token");
  token_file->excludes(token_env);
  command
      ->add_option("--deadline", flags->deadline,
                   "Deadline of each call (a stream: longest silence), e.g. 30s, 500ms, 2m")
      ->capture_default_str();
  command
      ->add_option("--retries", flags->retries,
                   "Retries of a call that failed with UNAVAILABLE, with exponential backoff")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxRetries));
}

void AddArchiveFlags(CLI::App* command, RemoteFlags* flags) {
  command->add_option("--datastore", flags->datastore, "Datastore name configured on the server")
      ->required();
  command
      ->add_option(
          "--snapshot", flags->snapshot,
          "Snapshot as [ns/NS/]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ, e.g. vm/100/2026-01-02T00:00:00Z")
      ->required();
  command
      ->add_option("--archive", flags->archive,
                   "Archive in the snapshot, e.g. drive-scsi0.img.fidx (or drive-scsi0.img)")
      ->required();
}

absl::StatusOr<std::chrono::milliseconds> ParseDurationFlag(std::string_view text,
                                                            std::string_view flag) {
  absl::Duration duration;
  if (!absl::ParseDuration(std::string(text), &duration) || duration <= absl::ZeroDuration() ||
      duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: \"%s\" is not a positive duration (write e.g. 30s, 500ms, 2m, 1h)", flag, text));
  }
  const int64_t milliseconds = absl::ToInt64Milliseconds(duration);
  return std::chrono::milliseconds(milliseconds > 0 ? milliseconds : 1);
}

absl::StatusOr<std::string> LoadBearerToken(const RemoteFlags& flags) {
  std::string token;
  if (!flags.token_file.empty()) {
    std::ifstream in(flags.token_file, std::ios::binary);
    if (!in) {
      return absl::FailedPreconditionError(absl::StrFormat("--token-file: cannot read %s: %s",
                                                           flags.token_file, std::strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = std::move(text).str();
    if (static_cast<std::streamoff>(token.size()) > kMaxTokenFileBytes) {
      return absl::FailedPreconditionError(
          absl::StrFormat("--token-file: %s is too large to be a token", flags.token_file));
    }
  } else if (!flags.token_env.empty()) {
    const char* value = std::getenv(flags.token_env.c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrFormat("--token-env: the environment variable %s is not set", flags.token_env));
    }
    token = value;
  } else {
    return std::string();
  }
  absl::StripAsciiWhitespace(&token);
  if (token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("the bearer token from %s is empty",
                        flags.token_file.empty() ? "$" + flags.token_env : flags.token_file));
  }
  return token;
}

absl::StatusOr<ClientOptions> BuildClientOptions(const RemoteFlags& flags) {
  ClientOptions options;
  options.server_address = flags.server;
  options.use_tls = flags.tls;
  options.ca_cert_file = flags.ca_file;
  options.client_cert_file = flags.cert_file;
  options.client_key_file = flags.key_file;
  options.tls_server_name = flags.tls_server_name;
  if (!flags.tls &&
      (!flags.ca_file.empty() || !flags.cert_file.empty() || !flags.tls_server_name.empty())) {
    return absl::InvalidArgumentError(
        "--ca, --cert, --key and --tls-server-name need --tls (add --tls)");
  }
  absl::StatusOr<std::chrono::milliseconds> deadline =
      ParseDurationFlag(flags.deadline, "--deadline");
  if (!deadline.ok()) return deadline.status();
  options.rpc_deadline = *deadline;
  if (flags.retries < 0 || flags.retries > kMaxRetries) {
    return absl::InvalidArgumentError(absl::StrFormat("--retries must be in 0..%d", kMaxRetries));
  }
  options.retry.max_attempts = flags.retries + 1;
  absl::StatusOr<std::string> token = LoadBearerToken(flags);
  if (!token.ok()) return token.status();
  options.bearer_token = *std::move(token);
  if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) return valid;
  return options;
}

absl::StatusOr<v1::SnapshotRef> BuildSnapshotRef(const RemoteFlags& flags) {
  return ParseSnapshotRef(flags.datastore, flags.snapshot, flags.archive);
}

}  // namespace chunkcache
