// ChunkCacheServer: chunkcached assembled — the datastores and keys, the chunk cache and its
// session registry, the gRPC server (ChunkCache service on the callback API, grpc.health.v1
// health tied to the datastores' readability, server reflection; TLS/mTLS from the settings)
// the Prometheus /metrics endpoint and, when configured, the NBD server (nbd/nbd_server.h)
// serving archives from the same cache and sessions.
//
//   absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server = ChunkCacheServer::Start(settings);
//   (*server)->grpc_port();      // the bound port, also for "127.0.0.1:0"
//   ...
//   (*server)->Shutdown();       // on SIGTERM: drain for settings.shutdown_grace, then stop
//
// Shutdown stops accepting calls at once (new ones get UNAVAILABLE, health turns NOT_SERVING),
// lets calls in flight finish until the grace period ends, cancels the rest, closes the
// connections, and then tears down in dependency order (metrics endpoint, server, sessions,
// cache). Start's errors name what failed: a datastore, a key, the cache dir, a TLS
// file, an address that cannot be bound.
#ifndef CHUNKCACHE_SERVICE_CHUNKCACHE_SERVER_H_
#define CHUNKCACHE_SERVICE_CHUNKCACHE_SERVER_H_

#include <grpcpp/server.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "nbd/nbd_server.h"
#include "service/archive_resolver.h"
#include "service/cache_stats_collector.h"
#include "service/chunk_cache_service.h"
#include "service/datastore_catalog.h"
#include "service/datastore_health.h"
#include "service/nbd_exports.h"
#include "service/nbd_metrics.h"
#include "service/nbd_reply_pins.h"
#include "service/pbs_stats_collector.h"
#include "service/range_response_encoder.h"
#include "service/reply_pin_budget.h"
#include "service/request_metrics.h"
#include "service/rpc_admission.h"
#include "service/server_settings.h"

namespace chunkcache {

class ChunkCacheServer {
 public:
  static absl::StatusOr<std::unique_ptr<ChunkCacheServer>> Start(ServerSettings settings);
  ~ChunkCacheServer() { Shutdown(); }
  ChunkCacheServer(const ChunkCacheServer&) = delete;
  ChunkCacheServer& operator=(const ChunkCacheServer&) = delete;

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }  // 0 without a metrics endpoint
  int nbd_port() const { return nbd_port_; }          // 0 without NBD or on a unix socket
  std::string grpc_address() const { return settings_.listen.WithPort(grpc_port_); }

  // Idempotent; blocks until everything has stopped (at most about the grace period plus the
  // time to release the last replies).
  void Shutdown();

 private:
  explicit ChunkCacheServer(ServerSettings settings) : settings_(std::move(settings)) {}
  absl::Status StartMetrics();
  absl::Status StartGrpc();
  absl::Status StartNbd();

  const ServerSettings settings_;
  std::unique_ptr<RequestMetrics> metrics_;  // the cache's observer: outlives the cache
  std::unique_ptr<DatastoreCatalog> catalog_;
  std::unique_ptr<ChunkCache> cache_;
  std::unique_ptr<SessionRegistry> registry_;
  std::unique_ptr<ArchiveResolver> resolver_;
  RpcAdmission admission_;
  std::shared_ptr<ZeroCopyPins> pins_ = std::make_shared<ZeroCopyPins>();
  std::shared_ptr<ReplyPinBudget> reply_budget_;  // made with the cache (its capacity sizes it)
  std::unique_ptr<ChunkCacheService> service_;
  std::shared_ptr<CacheStatsCollector> collector_;
  std::shared_ptr<PbsStatsCollector> pbs_collector_;  // null without a pbs datastore
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<DatastoreHealth> health_;
  std::unique_ptr<NbdMetrics> nbd_metrics_;
  std::unique_ptr<NbdExports> nbd_exports_;
  std::unique_ptr<NbdReplyPins> nbd_reply_pins_;
  std::unique_ptr<NbdServer> nbd_server_;
  int grpc_port_ = 0;
  int nbd_port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CHUNKCACHE_SERVER_H_
