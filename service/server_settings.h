// ServerSettings: chunkcached's configuration resolved and checked — the Config message (file
// plus flag overrides) with every default filled in, sizes parsed and cross-field rules
// enforced. Everything that can be checked without opening files is checked here, with errors
// that name the field; datastores and keys are opened by DatastoreCatalog.
//
//   absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
//   spdlog::info("event=startup {}", settings->Summary());
//
// Defaults (also in README.md, "chunkcached: configuration and operation"):
// listen 127.0.0.1:7070, metrics_listen 127.0.0.1:9470, cache.dir /var/cache/chunkcache,
// cache.capacity 1GiB, cache.policy DefaultEvictionPolicyName(), max_read_bytes 4MiB,
// shutdown_grace_seconds 10, log_level info; the rest as in cache/cache_options.h.
#ifndef CHUNKCACHE_SERVICE_SERVER_SETTINGS_H_
#define CHUNKCACHE_SERVICE_SERVER_SETTINGS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cache/cache_options.h"
#include "chunkcache/v1/config.pb.h"
#include "service/client_authorizer.h"
#include "service/listen_address.h"
#include "service/nbd_settings.h"
#include "upstream/key_source.h"
#include "upstream/pbs/pbs_options.h"
#include "upstream/upstream.h"

namespace chunkcache {

inline constexpr char kDefaultListen[] = "127.0.0.1:7070";
inline constexpr char kDefaultMetricsListen[] = "127.0.0.1:9470";
inline constexpr char kMetricsDisabled[] = "none";
inline constexpr char kDefaultCacheDir[] = "/var/cache/chunkcache";
inline constexpr uint64_t kDefaultCacheBytes = uint64_t{1} << 30;
inline constexpr uint64_t kServerDefaultMaxReadBytes = uint64_t{4} << 20;
// gRPC messages stay well below its 2 GiB limit, and clients must be able to receive them.
inline constexpr uint64_t kServerLargestMaxReadBytes = uint64_t{64} << 20;
inline constexpr double kDefaultShutdownGraceSeconds = 10;
inline constexpr uint32_t kDefaultUpstreamCallThreads = 8;
inline constexpr uint32_t kLargestUpstreamCallThreads = 1024;
inline constexpr uint32_t kDefaultMaxQueuedUpstreamCalls = 256;

// A datastore read from another chunkcache (tiering; upstream/grpc_upstream.h).
struct RemoteDatastoreSettings {
  std::string target;                // "host:port" of the upstream chunkcache
  std::string datastore;             // its name there
  std::filesystem::path token_file;  // empty: no bearer token
  std::filesystem::path ca_file;     // set: TLS, verifying the upstream
  std::filesystem::path cert_file;   // set (with key_file): mTLS client identity
  std::filesystem::path key_file;
  absl::Duration timeout = absl::Seconds(30);  // per call
};

// A datastore on a PBS server (upstream/pbs/pbs_upstream.h). The secret and the CA are read
// when the datastore is opened.
struct PbsDatastoreSettings {
  PbsUpstreamOptions options;  // everything but `secret` and `ca_pem`
  std::filesystem::path secret_file;
  std::string secret_env;
  std::filesystem::path ca_file;
};

struct DatastoreSettings {
  std::string name;
  std::filesystem::path path;  // empty for a remote datastore
  std::optional<RemoteDatastoreSettings> remote;
  std::optional<PbsDatastoreSettings> pbs;
  std::filesystem::path keyfile;  // empty: no key
  PasswordSource password;
  // Wraps the opened upstream before anything reads through it. Benchmarks and tests use it
  // to add latency, bandwidth limits or faults (upstream/faulty_upstream.h); chunkcached
  // leaves it unset.
  std::function<std::shared_ptr<Upstream>(std::shared_ptr<Upstream>)> wrap_upstream;
};

struct TlsSettings {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::filesystem::path client_ca_file;  // set: clients may (or must) present certificates
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty(); }
  bool verifies_clients() const { return !client_ca_file.empty(); }
};

struct ServerSettings {
  ListenAddress listen;
  std::optional<ListenAddress> metrics_listen;  // nullopt: no /metrics endpoint
  std::vector<DatastoreSettings> datastores;
  ChunkCacheOptions cache;
  SessionOptions sessions;
  TlsSettings tls;
  std::shared_ptr<const ClientAuthorizer> authorizer;  // never null; may be disabled
  uint64_t max_read_bytes = kServerDefaultMaxReadBytes;
  // Cache bytes zero-copy replies may keep pinned, in total and per connection
  // (service/reply_pin_budget.h); resolved from the capacity and max_read_bytes when unset.
  uint64_t max_reply_pinned_bytes = 0;
  uint64_t max_reply_pinned_bytes_per_connection = 0;
  absl::Duration shutdown_grace = absl::Seconds(kDefaultShutdownGraceSeconds);
  // The service's BlockingPool (chunk_cache_service.h): opens, snapshot files, listings.
  uint32_t upstream_call_threads = kDefaultUpstreamCallThreads;
  uint32_t max_queued_upstream_calls = kDefaultMaxQueuedUpstreamCalls;
  bool allow_unauthenticated_remote = false;
  std::string log_level = "info";
  absl::Duration health_check_interval = absl::Seconds(10);
  std::optional<NbdSettings> nbd;  // nullopt: no NBD server

  // Clients must prove who they are: configured clients, or a required client certificate.
  bool clients_authenticated() const;
  std::vector<std::string> datastore_names() const;
  // One line of key=value pairs for the startup log.
  std::string Summary() const;
};

absl::StatusOr<ServerSettings> ResolveSettings(const v1::Config& config);

// A datastore name as clients write it in SnapshotRef.datastore: 1-64 characters of
// [A-Za-z0-9_][A-Za-z0-9._-]*. INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateDatastoreName(std::string_view name, std::string_view field);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_SERVER_SETTINGS_H_
