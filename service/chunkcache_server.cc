#include "service/chunkcache_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "format/blob.h"
#include "service/log_setup.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

// Requests are small (a SnapshotRef and a few numbers, or a list of prefetch ranges).
constexpr int kMaxRequestBytes = 4 << 20;
// Room for the fields around the data of a max_read_bytes reply.
constexpr int kReplyOverheadBytes = 64 << 10;
// How long Shutdown waits for gRPC to drop the last zero-copy replies before the cache goes.
constexpr absl::Duration kPinReleaseTimeout = absl::Seconds(10);

absl::StatusOr<std::string> ReadPemFile(const std::filesystem::path& path, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  if (file) contents << file.rdbuf();
  if (!file || contents.str().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.", absl::string_view(what.data(), what.size()), ": cannot read ", path.string()));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const TlsSettings& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPemFile(tls.cert_file, "cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile(tls.key_file, "key_file");
  if (!key.ok()) return key.status();
  grpc_ssl_client_certificate_request_type request_type = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  std::string client_ca;
  if (tls.verifies_clients()) {
    absl::StatusOr<std::string> ca = ReadPemFile(tls.client_ca_file, "client_ca_file");
    if (!ca.ok()) return ca.status();
    client_ca = *std::move(ca);
    request_type = tls.require_client_cert
                       ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                       : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc::SslServerCredentialsOptions options(request_type);
  options.pem_root_certs = client_ca;
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChunkCacheServer>> ChunkCacheServer::Start(ServerSettings settings) {
  std::unique_ptr<ChunkCacheServer> server(new ChunkCacheServer(std::move(settings)));
  const ServerSettings& s = server->settings_;
  server->metrics_ = std::make_unique<RequestMetrics>(s.datastore_names());

  absl::StatusOr<std::unique_ptr<DatastoreCatalog>> catalog = DatastoreCatalog::Open(s.datastores);
  if (!catalog.ok()) return catalog.status();
  server->catalog_ = *std::move(catalog);

  ChunkCacheOptions cache_options = s.cache;
  cache_options.observer = server->metrics_.get();
  absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(cache_options);
  if (!cache.ok()) {
    return absl::Status(cache.status().code(),
                        absl::StrCat("cache in ", cache_options.cache_dir.string(), ": ",
                                     cache.status().message()));
  }
  server->cache_ = *std::move(cache);
  server->reply_budget_ = std::make_shared<ReplyPinBudget>(s.max_reply_pinned_bytes,
                                                           s.max_reply_pinned_bytes_per_connection);
  server->registry_ = std::make_unique<SessionRegistry>(server->cache_.get(), s.sessions);
  server->resolver_ = std::make_unique<ArchiveResolver>(server->catalog_.get(), s.authorizer.get(),
                                                        server->registry_.get());
  ServiceDeps deps{server->resolver_.get(), server->metrics_.get(), &server->admission_,
                   server->pins_,           server->reply_budget_,  s.max_read_bytes,
                   server->cache_.get()};
  deps.max_prefetch_ranges = s.sessions.max_prefetch_ranges;
  server->service_ = std::make_unique<ChunkCacheService>(std::move(deps), s.upstream_call_threads,
                                                         s.max_queued_upstream_calls);

  if (absl::Status started = server->StartMetrics(); !started.ok()) return started;
  if (absl::Status started = server->StartGrpc(); !started.ok()) return started;
  if (absl::Status started = server->StartNbd(); !started.ok()) return started;

  server->health_ = std::make_unique<DatastoreHealth>(
      server->catalog_.get(), server->server_->GetHealthCheckService(), s.health_check_interval);
  server->health_->Start();
  server->server_->GetHealthCheckService()->SetServingStatus(kLivenessHealthService, true);
  spdlog::info("event=listening grpc={} metrics={}", LogValue(server->grpc_address()),
               server->metrics_port_ == 0
                   ? std::string("none")
                   : s.metrics_listen->WithPort(server->metrics_port_) + "/metrics");
  return server;
}

absl::Status ChunkCacheServer::StartMetrics() {
  if (!settings_.metrics_listen.has_value()) return absl::OkStatus();
  const std::string address = settings_.metrics_listen->WithPort(settings_.metrics_listen->port);
  try {
    // civetweb takes "HOST:PORT", with IPv6 hosts in brackets, as WithPort writes them.
    exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", address, ": ", e.what()));
  }
  std::vector<int> ports = exposer_->GetListeningPorts();
  metrics_port_ = ports.empty() ? settings_.metrics_listen->port : ports.front();
  collector_ = std::make_shared<CacheStatsCollector>(cache_.get(), settings_.datastore_names(),
                                                     reply_budget_, registry_.get());
  exposer_->RegisterCollectable(metrics_->registry());
  exposer_->RegisterCollectable(collector_);
  pbs_collector_ = PbsStatsCollector::ForCatalog(*catalog_);
  if (pbs_collector_ != nullptr) exposer_->RegisterCollectable(pbs_collector_);
  return absl::OkStatus();
}

absl::Status ChunkCacheServer::StartGrpc() {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeCredentials(settings_.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(settings_.listen.text, *credentials, &grpc_port_);
  // The largest reply: a ReadRange of max_read_bytes, or for a downstream chunkcache a
  // GetSnapshotFile of an index or blob file (up to kMaxBlobFileSize; GetChunk replies are at
  // most kMaxChunkSize).
  builder.SetMaxSendMessageSize(
      static_cast<int>(std::max<uint64_t>(settings_.max_read_bytes, kMaxBlobFileSize)) +
      kReplyOverheadBytes);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || (grpc_port_ == 0 && !settings_.listen.unix_socket)) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("listen: cannot listen on ", settings_.listen.text,
                     " (address in use, not local, or not permitted; gRPC logs the reason above)"));
  }
  return absl::OkStatus();
}

absl::Status ChunkCacheServer::StartNbd() {
  if (!settings_.nbd.has_value()) return absl::OkStatus();
  const NbdSettings& nbd = *settings_.nbd;
  NbdServerOptions options;
  NbdListenAddress address;
  if (nbd.listen.unix_socket) {
    address.unix_path = nbd.listen.text.substr(5);  // after "unix:"
  } else {
    address.host = nbd.listen.host;
    address.port = nbd.listen.port;
  }
  options.listen.push_back(address);
  options.max_block_size =
      static_cast<uint32_t>(std::min<uint64_t>(settings_.max_read_bytes, kLargestNbdBlockSize));
  nbd_metrics_ = std::make_unique<NbdMetrics>(metrics_.get());
  // Unsent NBD replies pin chunks as gRPC replies do: one budget for both.
  nbd_reply_pins_ = std::make_unique<NbdReplyPins>(reply_budget_);
  options.reply_pins = nbd_reply_pins_.get();
  if (settings_.tls.enabled()) {
    // The gRPC side's certificate, key and client CA: NBD clients must start TLS with them.
    absl::StatusOr<std::shared_ptr<nbd::NbdTlsContext>> tls =
        nbd::NbdTlsContext::Create({.cert_file = settings_.tls.cert_file,
                                    .key_file = settings_.tls.key_file,
                                    .client_ca_file = settings_.tls.client_ca_file,
                                    .require_client_cert = settings_.tls.require_client_cert});
    if (!tls.ok()) return tls.status();
    options.tls = *std::move(tls);
  }
  nbd_exports_ = std::make_unique<NbdExports>(catalog_.get(), resolver_.get(), registry_.get(),
                                              settings_.authorizer.get(), nbd.exports);
  absl::StatusOr<std::unique_ptr<NbdServer>> server =
      NbdServer::Start(options, nbd_exports_.get(), nbd_metrics_.get());
  if (!server.ok()) return server.status();
  nbd_server_ = *std::move(server);
  nbd_port_ = nbd_server_->ports().front();
  spdlog::info("event=nbd_listening nbd={}",
               LogValue(nbd.listen.unix_socket ? nbd.listen.text : nbd.listen.WithPort(nbd_port_)));
  return absl::OkStatus();
}

void ChunkCacheServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;  // Start failed: the members unwind on their own
  const absl::Time grace_end = absl::Now() + settings_.shutdown_grace;
  spdlog::info("event=shutdown_started grace_seconds={} in_flight={}",
               absl::ToDoubleSeconds(settings_.shutdown_grace), admission_.in_flight());
  health_->Stop();
  server_->GetHealthCheckService()->SetServingStatus(false);
  // civetweb takes up to two seconds to stop: let it do so while the calls drain.
  std::thread metrics_stopper([this] {
    exposer_.reset();  // no scrape reaches the cache after this
    collector_.reset();
    pbs_collector_.reset();
  });

  // NBD connections finish their requests in flight within the same grace period.
  std::thread nbd_stopper([this, grace_end] {
    if (nbd_server_ != nullptr) nbd_server_->Shutdown(grace_end);
  });

  admission_.StartDraining();
  const bool drained = admission_.WaitUntilIdle(grace_end);
  spdlog::info("event=shutdown_drained in_flight={} grace_expired={}", admission_.in_flight(),
               drained ? "false" : "true");
  // An immediate deadline: cancel what is left and close the connections now, rather than wait
  // for idle clients to hang up.
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_->Wait();
  // Every call is finished now; opens still running on the service's workers end before the
  // registry they open in goes.
  service_->Shutdown();
  nbd_stopper.join();  // every NBD connection is closed: no session or chunk is held by NBD
  nbd_server_.reset();
  if (nbd_exports_ != nullptr) nbd_exports_->Shutdown();
  metrics_stopper.join();
  server_.reset();
  health_.reset();
  registry_.reset();
  if (!pins_->WaitUntilReleased(kPinReleaseTimeout)) {
    // gRPC still holds replies that point into the arena: keep it mapped rather than let them
    // read unmapped memory. The process is about to exit anyway.
    spdlog::error("event=shutdown_leak pinned_replies={}", pins_->held());
    (void)cache_.release();
  }
  cache_.reset();
  spdlog::info("event=shutdown_complete");
}

}  // namespace chunkcache
