// NbdExports: the service's side of the NBD server (nbd/nbd_export.h). An export name is
// checked as a gRPC SnapshotRef is — the snapshot and archive by nbd::ParseExportName
// (SnapshotName::Parse, ValidateArchiveName), the datastore by ValidateDatastoreName and the
// catalog — and opened through the same ArchiveResolver and SessionRegistry, so an NBD
// connection is one more reader of the session gRPC clients of that archive share. Opens
// that must read the manifest and index run on a small pool of their own, never on the NBD
// event loops.
//
// Authorization is the gRPC side's (client_authorizer.h): with clients[] configured, an NBD
// client is the client whose cert_subject is its verified TLS certificate's subject, and an
// export is refused (PERMISSION_DENIED; UNAUTHENTICATED without a known certificate) unless an
// allow rule admits its datastore and namespace. NBD_OPT_LIST shows only what it may read.
//
//   NbdExports exports(catalog, resolver, registry, authorizer, settings.nbd->exports);
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
#include "service/client_authorizer.h"
#include "service/datastore_catalog.h"

namespace chunkcache {

class NbdExports final : public NbdExportResolver {
 public:
  NbdExports(const DatastoreCatalog* catalog, const ArchiveResolver* resolver,
             const SessionRegistry* registry, const ClientAuthorizer* authorizer,
             std::vector<std::string> configured_exports);
  ~NbdExports() override { Shutdown(); }

  void Open(const NbdClient& client, std::string_view name, NbdExportCallback done) override;
  // The configured exports, then the archives open now (sorted, without repeats), that the
  // client may read.
  std::vector<std::string> List(const NbdClient& client) const override;

  // Waits for the opens running; opens queued are answered UNAVAILABLE. Idempotent.
  void Shutdown() { pool_.Shutdown(); }

 private:
  // OK when `client` may read that archive (always, without clients[]).
  absl::Status Authorize(const NbdClient& client, const std::string& datastore,
                         const SnapshotName& snapshot) const;

  const DatastoreCatalog* const catalog_;
  const ArchiveResolver* const resolver_;
  const SessionRegistry* const registry_;
  const ClientAuthorizer* const authorizer_;
  const std::vector<std::string> configured_exports_;
  BlockingPool pool_;
  ArchiveOpener opener_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_NBD_EXPORTS_H_
