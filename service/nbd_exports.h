// NbdExports: the service's side of the NBD server (nbd/nbd_export.h). An export name is
// checked as a gRPC SnapshotRef is — the snapshot and archive by nbd::ParseExportName
// (SnapshotName::Parse, ValidateArchiveName), the datastore by ValidateDatastoreName and the
// catalog — and opened through the same ArchiveResolver and SessionRegistry, so an NBD
// connection is one more reader of the session gRPC clients of that archive share. Opens
// that must read the manifest and index run on a small pool of their own, never on the NBD
// event loops.
//
//   NbdExports exports(catalog, resolver, registry, settings.nbd->exports);
//   auto server = NbdServer::Start(options, &exports, &metrics);
//   ...
//   server->Shutdown(deadline);
//   exports.Shutdown();
//
// Thread-safe; the catalog, resolver and registry must outlive it.
#ifndef CHUNKCACHE_SERVICE_NBD_EXPORTS_H_
#define CHUNKCACHE_SERVICE_NBD_EXPORTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "cache/session_registry.h"
#include "nbd/nbd_export.h"
#include "service/archive_opener.h"
#include "service/archive_resolver.h"
#include "service/blocking_pool.h"
#include "service/datastore_catalog.h"

namespace chunkcache {

class NbdExports final : public NbdExportResolver {
 public:
  NbdExports(const DatastoreCatalog* catalog, const ArchiveResolver* resolver,
             const SessionRegistry* registry, std::vector<std::string> configured_exports);
  ~NbdExports() override { Shutdown(); }

  void Open(const NbdClient& client, std::string_view name, NbdExportCallback done) override;
  // The configured exports, then the archives open now (sorted, without repeats).
  std::vector<std::string> List(const NbdClient& client) const override;

  // Waits for the opens running; opens queued are answered UNAVAILABLE. Idempotent.
  void Shutdown() { pool_.Shutdown(); }

 private:
  const DatastoreCatalog* const catalog_;
  const ArchiveResolver* const resolver_;
  const SessionRegistry* const registry_;
  const std::vector<std::string> configured_exports_;
  BlockingPool pool_;
  ArchiveOpener opener_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_NBD_EXPORTS_H_
