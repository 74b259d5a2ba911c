#include "service/command_line.h"

#include <cstdio>
#include <exception>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "service/config_file.h"

namespace chunkcache {
namespace {

template <typename T>
void AddOptional(CLI::App& app, const std::string& name, std::optional<T>* target,
                 const std::string& help) {
  app.add_option_function<T>(
      name, [target](const T& value) { *target = value; }, help);
}

absl::StatusOr<std::pair<std::string, std::string>> SplitNamePath(const std::string& text,
                                                                  std::string_view flag) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(flag), " ", text, ": expected NAME=PATH, e.g. store1=/srv/pbs"));
  }
  return std::make_pair(text.substr(0, equals), text.substr(equals + 1));
}

v1::DatastoreConfig* FindDatastore(v1::Config& config, const std::string& name) {
  for (v1::DatastoreConfig& datastore : *config.mutable_datastores()) {
    if (datastore.name() == name) return &datastore;
  }
  return nullptr;
}

}  // namespace

std::optional<int> ParseCommandLine(int argc, char** argv, CommandLine* flags) {
  CLI::App app{
      "chunkcached: the shared PBS chunk cache service (gRPC ReadRange for restore agents).\n"
      "Flags override the --config file; see README.md for every field and its default.",
      "chunkcached"};
  app.add_option("--config", flags->config_file,
                 "JSON config file (fields of chunkcache.v1.Config)");
  AddOptional(app, "--listen", &flags->listen, "gRPC address HOST:PORT (port 0: any free port)");
  AddOptional(app, "--metrics-listen", &flags->metrics_listen,
              "Prometheus /metrics address HOST:PORT, or 'none'");
  app.add_option("--datastore", flags->datastores, "NAME=PATH of a PBS datastore (repeatable)")
      ->expected(1)
      ->take_all();
  app.add_option("--keyfile", flags->keyfiles, "NAME=PATH: key file of datastore NAME (repeatable)")
      ->expected(1)
      ->take_all();
  app.add_option("--pbs", flags->pbs,
                 "NAME=https://HOST[:PORT]/STORE: datastore STORE of a Proxmox Backup Server, "
                 "read over HTTPS as datastore NAME (repeatable)")
      ->expected(1)
      ->take_all();
  AddOptional(app, "--pbs-auth-id", &flags->pbs_auth_id,
              "USER@REALM!TOKEN (API token) or USER@REALM (password) for every --pbs datastore");
  AddOptional(app, "--pbs-secret-file", &flags->pbs_secret_file,
              "file holding the token secret (or password) for every --pbs datastore");
  AddOptional(app, "--pbs-fingerprint", &flags->pbs_fingerprint,
              "SHA-256 fingerprint of the PBS server's certificate (aa:bb:...), to pin it");
  AddOptional(app, "--cache-dir", &flags->cache_dir, "directory of the cache arena");
  AddOptional(app, "--cache-bytes", &flags->cache_bytes, "cache capacity, e.g. 256MiB, 8GiB");
  AddOptional(app, "--policy", &flags->policy,
              "eviction policy (switch, lru, s3fifo, sieve, arc, 2q, index)");
  AddOptional(app, "--max-read-bytes", &flags->max_read_bytes,
              "largest ReadRange length and StreamRange message (default 4MiB)");
  AddOptional(app, "--max-open-index-bytes", &flags->max_open_index_bytes,
              "memory for the indexes of all open archives together (default 512MiB)");
  AddOptional(app, "--log-level", &flags->log_level, "trace, debug, info, warn or error");
  AddOptional(app, "--shutdown-grace", &flags->shutdown_grace_seconds,
              "seconds in-flight RPCs get to finish after SIGTERM");
  AddOptional(app, "--upstream-call-threads", &flags->upstream_call_threads,
              "threads for blocking upstream work: archive opens, snapshot files (default 8)");
  AddOptional(app, "--max-queued-upstream-calls", &flags->max_queued_upstream_calls,
              "upstream work waiting for a thread before calls are refused (default 256)");
  app.add_flag("--persist", flags->persist, "keep the cache arena across restarts");
  app.add_flag("--no-readahead", flags->no_readahead, "turn off sequential readahead");
  app.add_flag("--allow-unauthenticated-remote", flags->allow_unauthenticated_remote,
               "serve on a non-loopback address without client authentication");
  AddOptional(app, "--nbd-listen", &flags->nbd_listen,
              "serve archives over NBD on HOST[:PORT] (default port 10809) or unix:/path");
  AddOptional(app, "--tls-cert", &flags->tls_cert, "server certificate chain (PEM)");
  AddOptional(app, "--tls-key", &flags->tls_key, "server private key (PEM)");
  AddOptional(app, "--tls-client-ca", &flags->tls_client_ca, "CA of client certificates (mTLS)");
  app.add_flag("--require-client-cert", flags->require_client_cert,
               "refuse TLS clients without a certificate signed by --tls-client-ca");
  app.add_option("--port-file", flags->port_file,
                 "write grpc_port=N, metrics_port=M and nbd_port=P here once listening");
  app.add_flag(
      "--print-token-hash", flags->print_token_hash,
      "read a bearer token from stdin, print its SHA-256 for clients[].token_sha256, exit");
  app.add_flag("--check-config", flags->check_config,
               "validate the configuration, open the datastores and keys, print the summary, exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::fprintf(stderr, "chunkcached: %s\nRun with --help for usage.\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chunkcached: %s\n", e.what());
    return 2;
  }
  return std::nullopt;
}

absl::StatusOr<v1::Config> BuildConfig(const CommandLine& flags) {
  v1::Config config;
  if (!flags.config_file.empty()) {
    absl::StatusOr<v1::Config> loaded = LoadConfigFile(flags.config_file);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (flags.listen) config.set_listen(*flags.listen);
  if (flags.metrics_listen) config.set_metrics_listen(*flags.metrics_listen);
  for (const std::string& text : flags.datastores) {
    absl::StatusOr<std::pair<std::string, std::string>> entry = SplitNamePath(text, "--datastore");
    if (!entry.ok()) return entry.status();
    v1::DatastoreConfig* datastore = FindDatastore(config, entry->first);
    if (datastore == nullptr) {
      datastore = config.add_datastores();
      datastore->set_name(entry->first);
    }
    datastore->set_path(entry->second);
    datastore->clear_remote();  // the flag names where the datastore is, replacing the file's
    datastore->clear_pbs();
  }
  for (const std::string& text : flags.pbs) {
    absl::StatusOr<std::pair<std::string, std::string>> entry = SplitNamePath(text, "--pbs");
    if (!entry.ok()) return entry.status();
    // https://HOST[:PORT]/STORE: the last path component is the store on the server.
    const std::string& url = entry->second;
    const size_t scheme_end = url.find("://");
    const size_t slash = url.rfind('/');
    if (scheme_end == std::string::npos || slash <= scheme_end + 2 || slash + 1 == url.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--pbs ", text, ": expected NAME=https://HOST[:PORT]/STORE, e.g. ",
                       "store1=https://pbs.example:8007/store1"));
    }
    v1::DatastoreConfig* datastore = FindDatastore(config, entry->first);
    if (datastore == nullptr) {
      datastore = config.add_datastores();
      datastore->set_name(entry->first);
    }
    datastore->clear_path();
    datastore->clear_remote();
    v1::PbsUpstreamConfig* pbs = datastore->mutable_pbs();
    pbs->set_url(url.substr(0, slash));
    pbs->set_datastore(url.substr(slash + 1));
  }
  for (v1::DatastoreConfig& datastore : *config.mutable_datastores()) {
    if (!datastore.has_pbs()) continue;
    v1::PbsUpstreamConfig* pbs = datastore.mutable_pbs();
    if (flags.pbs_auth_id) pbs->set_auth_id(*flags.pbs_auth_id);
    if (flags.pbs_secret_file) {
      pbs->set_secret_file(*flags.pbs_secret_file);
      pbs->clear_secret_env();
    }
    if (flags.pbs_fingerprint) pbs->set_fingerprint(*flags.pbs_fingerprint);
  }
  for (const std::string& text : flags.keyfiles) {
    absl::StatusOr<std::pair<std::string, std::string>> entry = SplitNamePath(text, "--keyfile");
    if (!entry.ok()) return entry.status();
    v1::DatastoreConfig* datastore = FindDatastore(config, entry->first);
    if (datastore == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--keyfile ", text, ": datastore '", entry->first,
                       "' is not configured; add it with --datastore ", entry->first, "=PATH"));
    }
    datastore->set_keyfile(entry->second);
  }
  v1::CacheConfig& cache = *config.mutable_cache();
  if (flags.cache_dir) cache.set_dir(*flags.cache_dir);
  if (flags.cache_bytes) cache.set_capacity(*flags.cache_bytes);
  if (flags.policy) cache.set_policy(*flags.policy);
  if (flags.persist) cache.set_persist(true);
  if (flags.no_readahead) config.mutable_sessions()->set_readahead(false);
  if (flags.max_read_bytes) config.set_max_read_bytes(*flags.max_read_bytes);
  if (flags.max_open_index_bytes) {
    config.mutable_sessions()->set_max_open_index_bytes(*flags.max_open_index_bytes);
  }
  if (flags.log_level) config.set_log_level(*flags.log_level);
  if (flags.shutdown_grace_seconds)
    config.set_shutdown_grace_seconds(*flags.shutdown_grace_seconds);
  if (flags.upstream_call_threads) config.set_upstream_call_threads(*flags.upstream_call_threads);
  if (flags.max_queued_upstream_calls) {
    config.set_max_queued_upstream_calls(*flags.max_queued_upstream_calls);
  }
  if (flags.allow_unauthenticated_remote) config.set_allow_unauthenticated_remote(true);
  if (flags.nbd_listen) config.mutable_nbd()->set_listen(*flags.nbd_listen);
  v1::TlsConfig& tls = *config.mutable_tls();
  if (flags.tls_cert) tls.set_cert_file(*flags.tls_cert);
  if (flags.tls_key) tls.set_key_file(*flags.tls_key);
  if (flags.tls_client_ca) tls.set_client_ca_file(*flags.tls_client_ca);
  if (flags.require_client_cert) tls.set_require_client_cert(true);
  return config;
}

}  // namespace chunkcache
