#include "service/server_settings.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cache/eviction_policy.h"
#include "format/string_view_compat.h"
#include "service/byte_size.h"
#include "service/log_setup.h"
#include "upstream/grpc_upstream.h"

namespace chunkcache {
namespace {

bool IsNameStart(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || c == '.' || c == '-'; }

absl::StatusOr<uint64_t> SizeOr(const std::string& text, uint64_t fallback,
                                std::string_view field) {
  if (text.empty()) return fallback;
  return ParseByteSize(text, field);
}

absl::StatusOr<RemoteDatastoreSettings> ResolveRemote(const v1::RemoteUpstreamConfig& config,
                                                      const std::string& name,
                                                      const std::string& field) {
  RemoteDatastoreSettings remote;
  if (absl::Status valid = ValidateGrpcTarget(config.target(), absl::StrCat(field, ".target"));
      !valid.ok()) {
    return valid;
  }
  remote.target = config.target();
  remote.datastore = config.datastore().empty() ? name : config.datastore();
  if (absl::Status valid =
          ValidateDatastoreName(remote.datastore, absl::StrCat(field, ".datastore"));
      !valid.ok()) {
    return valid;
  }
  if (config.timeout_seconds() < 0 || !std::isfinite(config.timeout_seconds())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".timeout_seconds: must be positive (or 0 for the default of ",
                     kDefaultRemoteTimeoutSeconds, ")"));
  }
  remote.timeout = absl::Seconds(config.timeout_seconds() > 0 ? config.timeout_seconds()
                                                              : kDefaultRemoteTimeoutSeconds);
  if (config.cert_file().empty() != config.key_file().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cert_file and key_file go together (the client identity)"));
  }
  if (!config.cert_file().empty() && config.ca_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": a client certificate needs TLS; set ca_file to the CA of the upstream"));
  }
  remote.token_file = config.token_file();
  remote.ca_file = config.ca_file();
  remote.cert_file = config.cert_file();
  remote.key_file = config.key_file();
  return remote;
}

absl::StatusOr<PbsDatastoreSettings> ResolvePbs(const v1::PbsUpstreamConfig& config,
                                                const std::string& name, const std::string& field) {
  PbsDatastoreSettings pbs;
  PbsUpstreamOptions& options = pbs.options;
  options.url = config.url();
  options.datastore = config.datastore().empty() ? name : config.datastore();
  options.auth_id = config.auth_id();
  options.fingerprint = config.fingerprint();
  if (config.timeout_seconds() < 0 || !std::isfinite(config.timeout_seconds())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".timeout_seconds: must be positive (or 0 for the default of 30)"));
  }
  if (config.timeout_seconds() > 0) options.timeout = absl::Seconds(config.timeout_seconds());
  if (config.max_streams() != 0)
    options.max_streams = static_cast<int>(std::min(config.max_streams(), 100000u));
  if (config.max_sessions() != 0)
    options.max_sessions = static_cast<int>(std::min(config.max_sessions(), 100000u));
  if (config.secret_file().empty() == config.secret_env().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": set exactly one of secret_file and secret_env (the token secret or password)"));
  }
  pbs.secret_file = config.secret_file();
  pbs.secret_env = config.secret_env();
  pbs.ca_file = config.ca_file();
  options.secret = "set when opened";  // validated here for shape only
  if (absl::Status valid = ValidatePbsUpstreamOptions(options); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".", valid.message()));
  }
  options.secret.clear();
  return pbs;
}

absl::Status ResolveDatastores(const v1::Config& config, ServerSettings& settings) {
  if (config.datastores().empty()) {
    return absl::InvalidArgumentError(
        "no datastore configured; add one with --datastore NAME=PATH or a \"datastores\" entry");
  }
  for (int i = 0; i < config.datastores().size(); ++i) {
    const v1::DatastoreConfig& entry = config.datastores(i);
    const std::string field = absl::StrCat("datastores[", i, "]");
    if (absl::Status valid = ValidateDatastoreName(entry.name(), absl::StrCat(field, ".name"));
        !valid.ok()) {
      return valid;
    }
    for (const DatastoreSettings& other : settings.datastores) {
      if (other.name == entry.name()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": datastore '", entry.name(), "' is configured twice"));
      }
    }
    const int sources =
        (entry.path().empty() ? 0 : 1) + (entry.has_remote() ? 1 : 0) + (entry.has_pbs() ? 1 : 0);
    if (sources == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " (", entry.name(),
                       "): no path, remote or pbs; set path to a PBS datastore directory, "
                       "remote to another chunkcache or pbs to a PBS server"));
    }
    if (sources > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " (", entry.name(), "): more than one of path, remote and pbs is set; a ",
          "datastore is read from one of them"));
    }
    DatastoreSettings datastore;
    datastore.name = entry.name();
    datastore.path = entry.path();
    if (entry.has_remote()) {
      absl::StatusOr<RemoteDatastoreSettings> remote =
          ResolveRemote(entry.remote(), entry.name(), absl::StrCat(field, ".remote"));
      if (!remote.ok()) return remote.status();
      datastore.remote = *std::move(remote);
    }
    if (entry.has_pbs()) {
      absl::StatusOr<PbsDatastoreSettings> pbs =
          ResolvePbs(entry.pbs(), entry.name(), absl::StrCat(field, ".pbs"));
      if (!pbs.ok()) return pbs.status();
      datastore.pbs = *std::move(pbs);
    }
    datastore.keyfile = entry.keyfile();
    if (!entry.password_file().empty() && !entry.password_env().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " (", entry.name(), "): set password_file or password_env, not both"));
    }
    if ((!entry.password_file().empty() || !entry.password_env().empty()) &&
        entry.keyfile().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " (", entry.name(), "): a key password is set but no keyfile"));
    }
    if (!entry.password_file().empty()) datastore.password.file = entry.password_file();
    if (!entry.password_env().empty()) datastore.password.env_var = entry.password_env();
    settings.datastores.push_back(std::move(datastore));
  }
  return absl::OkStatus();
}

absl::Status ResolveCache(const v1::CacheConfig& cache, ServerSettings& settings) {
  ChunkCacheOptions& options = settings.cache;
  options.cache_dir = cache.dir().empty() ? std::string(kDefaultCacheDir) : cache.dir();
  absl::StatusOr<uint64_t> capacity =
      SizeOr(cache.capacity(), kDefaultCacheBytes, "cache.capacity");
  if (!capacity.ok()) return capacity.status();
  options.capacity_bytes = *capacity;
  options.policy =
      cache.policy().empty() ? std::string(DefaultEvictionPolicyName()) : cache.policy();
  std::vector<std::string> known;
  for (std::string_view name : EvictionPolicyNames()) known.emplace_back(name);
  if (std::find(known.begin(), known.end(), options.policy) == known.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache.policy: unknown eviction policy '", options.policy,
                     "'; known policies: ", absl::StrJoin(known, ", ")));
  }
  if (cache.max_concurrent_fetches() != 0) {
    options.max_concurrent_fetches =
        static_cast<int>(std::min<uint32_t>(cache.max_concurrent_fetches(), 1024));
  }
  if (cache.max_queued_fetches() != 0) options.max_queued_fetches = cache.max_queued_fetches();
  if (cache.has_max_readahead_fetches_under_demand()) {
    options.max_readahead_fetches_under_demand = cache.max_readahead_fetches_under_demand();
  }
  if (cache.has_readahead_yield_window_fetch_times()) {
    options.readahead_yield_window_fetch_times = cache.readahead_yield_window_fetch_times();
  }
  absl::StatusOr<uint64_t> hinted = SizeOr(cache.max_hinted_bytes(), 0, "cache.max_hinted_bytes");
  if (!hinted.ok()) return hinted.status();
  options.max_hinted_bytes = *hinted;
  if (options.max_hinted_bytes > options.capacity_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cache.max_hinted_bytes (", FormatByteSize(options.max_hinted_bytes),
        ") is larger than cache.capacity (", FormatByteSize(options.capacity_bytes), ")"));
  }
  absl::StatusOr<uint64_t> readahead =
      SizeOr(cache.max_readahead_pinned_bytes(), 0, "cache.max_readahead_pinned_bytes");
  if (!readahead.ok()) return readahead.status();
  options.max_readahead_pinned_bytes = *readahead;
  if (options.max_readahead_pinned_bytes > options.capacity_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cache.max_readahead_pinned_bytes (", FormatByteSize(options.max_readahead_pinned_bytes),
        ") is larger than cache.capacity (", FormatByteSize(options.capacity_bytes), ")"));
  }
  options.persist = cache.persist();
  options.persist_encrypted = cache.persist_encrypted();
  if (options.persist_encrypted && !options.persist) {
    return absl::InvalidArgumentError("cache.persist_encrypted needs cache.persist");
  }
  return ValidateChunkCacheOptions(options);
}

absl::Status ResolveSessions(const v1::SessionConfig& sessions, ServerSettings& settings) {
  SessionOptions& options = settings.sessions;
  if (sessions.hinted_chunks() != 0) options.hinted_chunks = sessions.hinted_chunks();
  absl::StatusOr<uint64_t> hinted_bytes =
      SizeOr(sessions.hinted_bytes_per_session(), options.hinted_bytes_per_session,
             "sessions.hinted_bytes_per_session");
  if (!hinted_bytes.ok()) return hinted_bytes.status();
  options.hinted_bytes_per_session = *hinted_bytes;
  absl::StatusOr<uint64_t> index_bytes =
      SizeOr(sessions.max_open_index_bytes(), options.max_open_index_bytes,
             "sessions.max_open_index_bytes");
  if (!index_bytes.ok()) return index_bytes.status();
  if (*index_bytes == 0) {
    return absl::InvalidArgumentError(
        "sessions.max_open_index_bytes must be at least 1 byte (no archive could be opened)");
  }
  options.max_open_index_bytes = *index_bytes;
  if (sessions.max_reader_streams() != 0)
    options.max_reader_streams = sessions.max_reader_streams();
  // A cache-wide bound (the policy is the cache's), set with the per-archive one.
  if (sessions.max_policy_streams() != 0) {
    settings.cache.max_policy_streams = sessions.max_policy_streams();
  }
  if (sessions.idle_timeout_seconds() < 0 || !std::isfinite(sessions.idle_timeout_seconds())) {
    return absl::InvalidArgumentError("sessions.idle_timeout_seconds must be positive");
  }
  if (sessions.idle_timeout_seconds() > 0) {
    options.idle_timeout = absl::Seconds(sessions.idle_timeout_seconds());
  }
  if (sessions.has_readahead()) options.readahead.enabled = sessions.readahead();
  if (sessions.readahead_max_chunks() != 0) {
    options.readahead.max_window = sessions.readahead_max_chunks();
    options.readahead.initial_window =
        std::min(options.readahead.initial_window, options.readahead.max_window);
  }
  const double pin_idle = sessions.readahead_pin_idle_seconds();
  if (pin_idle < 0 || !std::isfinite(pin_idle)) {
    return absl::InvalidArgumentError("sessions.readahead_pin_idle_seconds must be positive");
  }
  if (pin_idle > 0) options.readahead.pin_idle_timeout = absl::Seconds(pin_idle);
  options.max_read_bytes = settings.max_read_bytes;
  return absl::OkStatus();
}

// After the cache and max_read_bytes: the defaults derive from them.
absl::Status ResolveReplyPins(const v1::Config& config, ServerSettings& settings) {
  const uint64_t capacity = settings.cache.capacity_bytes;
  absl::StatusOr<uint64_t> total =
      SizeOr(config.max_reply_pinned_bytes(), capacity / 4, "max_reply_pinned_bytes");
  if (!total.ok()) return total.status();
  if (*total == 0 || *total > capacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_reply_pinned_bytes: ", FormatByteSize(*total),
                     " is outside 1B..cache.capacity (", FormatByteSize(capacity), ")"));
  }
  const uint64_t default_share =
      std::min(*total, std::max(*total / 4, 2 * settings.max_read_bytes));
  absl::StatusOr<uint64_t> share = SizeOr(config.max_reply_pinned_bytes_per_connection(),
                                          default_share, "max_reply_pinned_bytes_per_connection");
  if (!share.ok()) return share.status();
  if (*share == 0 || *share > *total) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_reply_pinned_bytes_per_connection: ", FormatByteSize(*share),
                     " is outside 1B..max_reply_pinned_bytes (", FormatByteSize(*total), ")"));
  }
  settings.max_reply_pinned_bytes = *total;
  settings.max_reply_pinned_bytes_per_connection = *share;
  return absl::OkStatus();
}

absl::Status ResolveTls(const v1::TlsConfig& tls, ServerSettings& settings) {
  settings.tls.cert_file = tls.cert_file();
  settings.tls.key_file = tls.key_file();
  settings.tls.client_ca_file = tls.client_ca_file();
  settings.tls.require_client_cert = tls.require_client_cert();
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return absl::InvalidArgumentError("tls: cert_file and key_file go together");
  }
  if (!tls.client_ca_file().empty() && tls.cert_file().empty()) {
    return absl::InvalidArgumentError(
        "tls.client_ca_file needs TLS: set tls.cert_file and tls.key_file too");
  }
  if (tls.require_client_cert() && tls.client_ca_file().empty()) {
    return absl::InvalidArgumentError(
        "tls.require_client_cert needs tls.client_ca_file to verify the certificates with");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDatastoreName(std::string_view name, std::string_view field) {
  bool valid = !name.empty() && name.size() <= 64 && IsNameStart(name.front());
  for (char c : name) valid = valid && IsNameChar(c);
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), ": '", ToAbsl(name),
                     "' is not a datastore name (1-64 characters of [A-Za-z0-9_][A-Za-z0-9._-]*)"));
  }
  return absl::OkStatus();
}

bool ServerSettings::clients_authenticated() const {
  return authorizer->enabled() || (tls.verifies_clients() && tls.require_client_cert);
}

std::vector<std::string> ServerSettings::datastore_names() const {
  std::vector<std::string> names;
  for (const DatastoreSettings& datastore : datastores) names.push_back(datastore.name);
  return names;
}

std::string ServerSettings::Summary() const {
  std::vector<std::string> stores;
  for (const DatastoreSettings& datastore : datastores) {
    const std::string where =
        datastore.remote.has_value()
            ? absl::StrCat("grpc://", datastore.remote->target, "/", datastore.remote->datastore,
                           datastore.remote->ca_file.empty() ? "" : "+tls")
        : datastore.pbs.has_value()
            ? absl::StrCat(datastore.pbs->options.url, "/", datastore.pbs->options.datastore, "+",
                           datastore.pbs->options.auth_id)
            : datastore.path.string();
    stores.push_back(
        absl::StrCat(datastore.name, ":", where, datastore.keyfile.empty() ? "" : "+key"));
  }
  const std::string tls_mode = !tls.enabled()            ? "off"
                               : !tls.verifies_clients() ? "tls"
                               : tls.require_client_cert ? "mtls-required"
                                                         : "mtls-optional";
  return absl::StrCat(
      "listen=", listen.text, " metrics_listen=",
      metrics_listen.has_value() ? metrics_listen->text : std::string(kMetricsDisabled),
      " datastores=", absl::StrJoin(stores, ","), " cache_dir=", cache.cache_dir.string(),
      " cache_bytes=", FormatByteSize(cache.capacity_bytes), " policy=", cache.policy,
      " persist=", cache.persist ? "true" : "false",
      " max_read_bytes=", FormatByteSize(max_read_bytes), " tls=", tls_mode,
      " clients=", authorizer->client_count(),
      " readahead=", sessions.readahead.enabled ? "on" : "off",
      " max_open_index_bytes=", FormatByteSize(sessions.max_open_index_bytes),
      " upstream_call_threads=", upstream_call_threads,
      " shutdown_grace_seconds=", absl::ToDoubleSeconds(shutdown_grace), " log_level=", log_level,
      " nbd=", nbd.has_value() ? nbd->listen.text : "off");
}

absl::StatusOr<ServerSettings> ResolveSettings(const v1::Config& config) {
  ServerSettings settings;
  absl::StatusOr<ListenAddress> listen = ParseListenAddress(
      config.listen().empty() ? std::string(kDefaultListen) : config.listen(), "listen",
      /*allow_unix_socket=*/true);
  if (!listen.ok()) return listen.status();
  settings.listen = *std::move(listen);

  const std::string metrics = config.metrics_listen().empty() ? std::string(kDefaultMetricsListen)
                                                              : config.metrics_listen();
  if (metrics != kMetricsDisabled) {
    absl::StatusOr<ListenAddress> address =
        ParseListenAddress(metrics, "metrics_listen", /*allow_unix_socket=*/false);
    if (!address.ok()) return address.status();
    settings.metrics_listen = *std::move(address);
  }

  absl::StatusOr<uint64_t> max_read =
      SizeOr(config.max_read_bytes(), kServerDefaultMaxReadBytes, "max_read_bytes");
  if (!max_read.ok()) return max_read.status();
  if (*max_read == 0 || *max_read > kServerLargestMaxReadBytes) {
    return absl::InvalidArgumentError(absl::StrCat("max_read_bytes: ", FormatByteSize(*max_read),
                                                   " is outside 1B..",
                                                   FormatByteSize(kServerLargestMaxReadBytes)));
  }
  settings.max_read_bytes = *max_read;

  const double grace = config.shutdown_grace_seconds();
  if (grace < 0 || !std::isfinite(grace) || grace > 3600) {
    return absl::InvalidArgumentError(
        "shutdown_grace_seconds must be between 0 and 3600 (0 or unset means 10)");
  }
  settings.shutdown_grace = absl::Seconds(grace == 0 ? kDefaultShutdownGraceSeconds : grace);
  if (config.upstream_call_threads() > kLargestUpstreamCallThreads) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream_call_threads must be at most ", kLargestUpstreamCallThreads,
                     " (0 or unset means ", kDefaultUpstreamCallThreads, ")"));
  }
  if (config.upstream_call_threads() != 0) {
    settings.upstream_call_threads = config.upstream_call_threads();
  }
  if (config.max_queued_upstream_calls() != 0) {
    settings.max_queued_upstream_calls = config.max_queued_upstream_calls();
  }
  settings.allow_unauthenticated_remote = config.allow_unauthenticated_remote();
  settings.log_level = config.log_level().empty() ? "info" : config.log_level();
  if (absl::Status valid = ValidateLogLevel(settings.log_level); !valid.ok()) return valid;

  if (absl::Status s = ResolveDatastores(config, settings); !s.ok()) return s;
  if (absl::Status s = ResolveCache(config.cache(), settings); !s.ok()) return s;
  if (absl::Status s = ResolveSessions(config.sessions(), settings); !s.ok()) return s;
  if (absl::Status s = ResolveReplyPins(config, settings); !s.ok()) return s;
  if (absl::Status s = ResolveTls(config.tls(), settings); !s.ok()) return s;

  absl::StatusOr<ClientAuthorizer> authorizer =
      ClientAuthorizer::Create(config.clients(), settings.datastore_names());
  if (!authorizer.ok()) return authorizer.status();
  settings.authorizer = std::make_shared<const ClientAuthorizer>(*std::move(authorizer));
  if (settings.authorizer->uses_certificates() && !settings.tls.verifies_clients()) {
    return absl::InvalidArgumentError(
        "clients: a cert_subject is configured but tls.client_ca_file is not, so no client "
        "certificate would ever be verified");
  }

  absl::StatusOr<std::optional<NbdSettings>> nbd = ResolveNbdSettings(config, settings);
  if (!nbd.ok()) return nbd.status();
  settings.nbd = *std::move(nbd);
  if (!settings.listen.loopback() && !settings.clients_authenticated() &&
      !settings.allow_unauthenticated_remote) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: ", settings.listen.text,
                     " is reachable from other machines but no client authentication is configured "
                     "(clients with tokens or certificates, or tls.require_client_cert); listen on "
                     "127.0.0.1 or set allow_unauthenticated_remote"));
  }
  return settings;
}

}  // namespace chunkcache
