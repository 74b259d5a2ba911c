// chunkcached: the shared PBS chunk cache service. Parses the command line and the config
// file, starts the server, waits for SIGTERM or SIGINT and shuts down gracefully.
//
// Exit codes: 0 after a clean shutdown (or --help, --print-token-hash, --check-config);
// 1 when the server cannot start (datastore, key, cache dir, address); 2 for usage and
// configuration errors. Errors before logging is set up go to stderr as "chunkcached: ...".
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/command_line.h"
#include "service/datastore_catalog.h"
#include "service/log_setup.h"
#include "service/serve_until_signalled.h"
#include "service/server_settings.h"
#include "service/token_hash.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int PrintTokenHash() {
  std::string token((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  // The token as `echo` or a file would carry it: surrounding whitespace is not part of it.
  const std::string trimmed(absl::StripAsciiWhitespace(token));
  if (trimmed.empty()) {
    std::fprintf(stderr, "chunkcached: --print-token-hash reads the token from stdin; got none\n");
    return kExitUsage;
  }
  std::printf("%s\n", TokenSha256Hex(trimmed).c_str());
  return kExitOk;
}

int Run(int argc, char** argv) {
  CommandLine flags;
  if (std::optional<int> exit_code = ParseCommandLine(argc, argv, &flags)) return *exit_code;
  if (flags.print_token_hash) return PrintTokenHash();

  absl::StatusOr<v1::Config> config = BuildConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "chunkcached: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  absl::StatusOr<ServerSettings> settings = ResolveSettings(*config);
  if (!settings.ok()) {
    std::fprintf(stderr, "chunkcached: %s\n", std::string(settings.status().message()).c_str());
    return kExitUsage;
  }
  if (absl::Status logging = ConfigureLogging(settings->log_level); !logging.ok()) {
    std::fprintf(stderr, "chunkcached: %s\n", std::string(logging.message()).c_str());
    return kExitUsage;
  }

  BlockShutdownSignals();  // every thread started from here on inherits the mask

  spdlog::info("event=startup pid={} {}", getpid(), settings->Summary());
  if (!settings->clients_authenticated()) {
    if (settings->listen.loopback()) {
      spdlog::info("event=auth_disabled listen={} note={}", LogValue(settings->listen.text),
                   LogValue("no client authentication configured: serving loopback clients "
                            "only, every datastore readable by any local process"));
    } else {
      spdlog::warn("event=auth_disabled listen={} note={}", LogValue(settings->listen.text),
                   LogValue("allow_unauthenticated_remote is set: anyone who can reach this "
                            "address can read every configured datastore"));
    }
  }

  if (flags.check_config) {
    absl::StatusOr<std::unique_ptr<DatastoreCatalog>> catalog =
        DatastoreCatalog::Open(settings->datastores);
    if (!catalog.ok()) {
      spdlog::error("event=config_invalid error={}", LogValue(catalog.status().message()));
      return kExitFailure;
    }
    std::printf("configuration OK: %s\n", settings->Summary().c_str());
    return kExitOk;
  }

  return ServeUntilSignalled(*std::move(settings), flags.port_file);
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) { return chunkcache::Run(argc, argv); }
