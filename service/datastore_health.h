// DatastoreHealth: keeps grpc.health.v1.Health in step with the datastores. The server is
// SERVING (both for "" and for "chunkcache.v1.ChunkCache") only while every configured
// datastore answers Upstream::CheckReadable; the first check runs in Start, then one every
// `interval` on a background thread. Changes are logged (event=datastore_unreadable /
// datastore_readable). The server also reports kLivenessHealthService, SERVING from start to
// shutdown whatever the datastores do, for liveness probes that must not restart a healthy
// process because its storage is briefly away.
//
//   DatastoreHealth health(catalog, server->GetHealthCheckService(), absl::Seconds(10));
//   health.Start();
//   ...
//   health.Stop();   // before the server shuts down
//
// Thread-safe; the catalog and the health service must outlive it.
#ifndef CHUNKCACHE_SERVICE_DATASTORE_HEALTH_H_
#define CHUNKCACHE_SERVICE_DATASTORE_HEALTH_H_

#include <grpcpp/health_check_service_interface.h>

#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/datastore_catalog.h"

namespace chunkcache {

inline constexpr char kChunkCacheHealthService[] = "chunkcache.v1.ChunkCache";
inline constexpr char kLivenessHealthService[] = "liveness";

class DatastoreHealth {
 public:
  DatastoreHealth(const DatastoreCatalog* catalog, grpc::HealthCheckServiceInterface* health,
                  absl::Duration interval);
  ~DatastoreHealth() { Stop(); }
  DatastoreHealth(const DatastoreHealth&) = delete;
  DatastoreHealth& operator=(const DatastoreHealth&) = delete;

  void Start();
  void Stop();
  // Checks every datastore now and updates the serving status; true when all are readable.
  bool CheckNow();

 private:
  void Loop();

  const DatastoreCatalog* const catalog_;
  grpc::HealthCheckServiceInterface* const health_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> readable_ ABSL_GUARDED_BY(mu_);
  bool first_check_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_DATASTORE_HEALTH_H_
