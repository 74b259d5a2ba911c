// The flags every subcommand that talks to a chunkcached server shares, and their conversion
// into ClientOptions and a SnapshotRef:
//
//   --server ADDR (or $CHUNKCACHE_SERVER)   --tls  --ca FILE  --cert FILE --key FILE
//   --tls-server-name NAME                  --token-file FILE | --token-env VAR
//   --deadline 30s                          --retries N
//   --datastore NAME --snapshot SNAP --archive NAME
//
//   RemoteFlags flags;
//   AddConnectionFlags(command, &flags);
//   AddArchiveFlags(command, &flags);
//   ... after parsing:
//   absl::StatusOr<ClientOptions> options = BuildClientOptions(flags);  // reads the token
//   absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags);
#ifndef CHUNKCACHE_CLIENT_CLI_REMOTE_FLAGS_H_
#define CHUNKCACHE_CLIENT_CLI_REMOTE_FLAGS_H_

#include <chrono>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "client/lib/client_options.h"

namespace chunkcache {

struct RemoteFlags {
  std::string server;
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string tls_server_name;
  std::string token_file;
  std::string token_env;
  std::string deadline = "30s";
  int retries = 4;  // retries of UNAVAILABLE after the first attempt

  std::string datastore;
  std::string snapshot;
  std::string archive;
};

void AddConnectionFlags(CLI::App* command, RemoteFlags* flags);
void AddArchiveFlags(CLI::App* command, RemoteFlags* flags);

// "30s", "1500ms", "2m": a positive duration (absl::ParseDuration syntax). INVALID_ARGUMENT
// naming `flag` otherwise.
absl::StatusOr<std::chrono::milliseconds> ParseDurationFlag(std::string_view text,
                                                            std::string_view flag);

// The bearer token from --token-file (surrounding whitespace removed) or --token-env;
// "" when neither is given.
absl::StatusOr<std::string> LoadBearerToken(const RemoteFlags& flags);

absl::StatusOr<ClientOptions> BuildClientOptions(const RemoteFlags& flags);
absl::StatusOr<v1::SnapshotRef> BuildSnapshotRef(const RemoteFlags& flags);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_REMOTE_FLAGS_H_
