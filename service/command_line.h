// chunkcached's command line: the flags, and how they override the config file.
//
//   chunkcached --config /etc/chunkcache/chunkcached.json --listen 0.0.0.0:7070
//   chunkcached --datastore store1=/srv/pbs --keyfile store1=/etc/pbs.key --cache-bytes 8GiB
//   chunkcached --print-token-hash < token.txt      # SHA-256 for clients[].token_sha256
//
//   CommandLine flags;
//   std::optional<int> exit_code = ParseCommandLine(argc, argv, &flags);  // --help, usage
//   if (exit_code) return *exit_code;
//   absl::StatusOr<v1::Config> config = BuildConfig(flags);   // file + overrides
//
// Flag values are applied on top of the file: scalar flags replace the field; --datastore
// NAME=PATH replaces the path of datastore NAME or adds it; --keyfile NAME=PATH sets the key of
// a datastore configured in the file or by --datastore (an unknown NAME is an error).
#ifndef CHUNKCACHE_SERVICE_COMMAND_LINE_H_
#define CHUNKCACHE_SERVICE_COMMAND_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"

namespace chunkcache {

struct CommandLine {
  std::string config_file;
  std::optional<std::string> listen;
  std::optional<std::string> metrics_listen;
  std::vector<std::string> datastores;  // NAME=PATH
  std::vector<std::string> keyfiles;    // NAME=PATH
  // --pbs NAME=https://HOST[:PORT]/STORE (repeatable) and the credentials every --pbs datastore
  // uses: --pbs-auth-id USER@REALM!TOKEN, --pbs-secret-file FILE, --pbs-fingerprint AA:BB:...
  std::vector<std::string> pbs;
  std::optional<std::string> pbs_auth_id;
  std::optional<std::string> pbs_secret_file;
  std::optional<std::string> pbs_fingerprint;
  std::optional<std::string> cache_dir;
  std::optional<std::string> cache_bytes;
  std::optional<std::string> policy;
  std::optional<std::string> max_read_bytes;
  std::optional<std::string> max_open_index_bytes;
  std::optional<std::string> log_level;
  std::optional<double> shutdown_grace_seconds;
  std::optional<uint32_t> upstream_call_threads;
  std::optional<uint32_t> max_queued_upstream_calls;
  bool persist = false;
  bool no_readahead = false;
  bool allow_unauthenticated_remote = false;
  std::optional<std::string> nbd_listen;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> tls_client_ca;
  bool require_client_cert = false;

  // Not configuration: what to do.
  // Written once listening: "grpc_port=N\nmetrics_port=M\nnbd_port=P\n" (P 0 without NBD).
  std::string port_file;
  bool print_token_hash = false;
  bool check_config = false;
};

// Parses argv into `flags`. Returns an exit code when the program should stop now: 0 after
// --help, 2 after a usage error (printed to stderr). Never throws.
std::optional<int> ParseCommandLine(int argc, char** argv, CommandLine* flags);

// The config file (if any) with the flags applied.
absl::StatusOr<v1::Config> BuildConfig(const CommandLine& flags);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_COMMAND_LINE_H_
