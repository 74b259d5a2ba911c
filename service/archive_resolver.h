// ArchiveResolver: turns the SnapshotRef of a request into an open SnapshotSession, in the
// order every RPC needs:
//   1. who is calling (UNAUTHENTICATED),
//   2. are the names valid — datastore, namespace, type, id, time, archive: INVALID_ARGUMENT,
//      never a path (SnapshotName::FromFields, ValidateArchiveName),
//   3. may the caller read that datastore and namespace (PERMISSION_DENIED; checked before the
//      datastore's existence, so restricted clients cannot probe for names),
//   4. is the datastore configured (NOT_FOUND "unknown datastore"),
//   5. the shared session from the SessionRegistry (NOT_FOUND for a missing snapshot or
//      archive, FAILED_PRECONDITION for a missing or wrong key, DATA_LOSS for a bad index...).
// Steps 1-4 are Check (no I/O); step 5 is Open, which may read the manifest and index from the
// upstream when the archive is not open yet (FindOpen is step 5 for an open archive only, and
// never blocks). The tiering RPCs use the same order:
// CheckSnapshotFile (GetSnapshotFile: a snapshot's manifest, index or blob file, with the
// namespace rules of Check) and CheckDatastore (GetChunk, ListSnapshots: an allow rule that
// covers the whole datastore, since a chunk digest is not tied to a namespace).
//
//   absl::StatusOr<ArchiveRequest> request = resolver.Check(*context, ref);
//   absl::StatusOr<std::shared_ptr<SnapshotSession>> session = resolver.Open(*request);
//
// Thread-safe; the catalog, authorizer and registry must outlive it.
#ifndef CHUNKCACHE_SERVICE_ARCHIVE_RESOLVER_H_
#define CHUNKCACHE_SERVICE_ARCHIVE_RESOLVER_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cache/session_registry.h"
#include "cache/snapshot_session.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "format/snapshot_name.h"
#include "service/client_authorizer.h"
#include "service/datastore_catalog.h"

namespace chunkcache {

struct ArchiveRequest {
  const CatalogEntry* datastore = nullptr;
  SnapshotName snapshot;
  std::string archive;
  std::string client;  // the caller's configured name, "" without authorization

  // "store1:ns/a/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx", for logs.
  std::string Describe() const;
};

struct DatastoreRequest {
  const CatalogEntry* datastore = nullptr;
  std::string client;  // the caller's configured name, "" without authorization
};

class ArchiveResolver {
 public:
  ArchiveResolver(const DatastoreCatalog* catalog, const ClientAuthorizer* authorizer,
                  SessionRegistry* registry)
      : catalog_(catalog), authorizer_(authorizer), registry_(registry) {}

  absl::StatusOr<ArchiveRequest> Check(const grpc::ServerContextBase& context,
                                       const v1::SnapshotRef& ref) const;
  absl::StatusOr<std::shared_ptr<SnapshotSession>> Open(const ArchiveRequest& request) const;
  // The session when the archive is open already, else null; never blocks on the upstream
  // (SessionRegistry::FindOpen). Calls that get null run Open where blocking is allowed.
  std::shared_ptr<SnapshotSession> FindOpen(const ArchiveRequest& request) const;

  // `ref.archive` is ignored; the request's `archive` is `file_name` ("index.json.blob" or an
  // archive name), validated before anything else is looked at.
  absl::StatusOr<ArchiveRequest> CheckSnapshotFile(const grpc::ServerContextBase& context,
                                                   const v1::SnapshotRef& ref,
                                                   std::string_view file_name) const;
  // `field` names the request field in INVALID_ARGUMENT messages ("datastore").
  absl::StatusOr<DatastoreRequest> CheckDatastore(const grpc::ServerContextBase& context,
                                                  std::string_view datastore,
                                                  std::string_view field) const;

 private:
  const DatastoreCatalog* const catalog_;
  const ClientAuthorizer* const authorizer_;
  SessionRegistry* const registry_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_ARCHIVE_RESOLVER_H_
