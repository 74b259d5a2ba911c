// DatastoreCatalog: the configured datastores, opened — each name with its upstream (a PBS
// datastore directory, or another chunkcache for a `remote` datastore: GrpcUpstream) and its
// key, ready to be named by clients in SnapshotRef.datastore. A remote datastore opens without
// contacting the remote (credentials files are read); the health checks tell whether it serves.
//
//   absl::StatusOr<std::unique_ptr<DatastoreCatalog>> catalog =
//       DatastoreCatalog::Open(settings.datastores);
//   const CatalogEntry* entry = (*catalog)->Find("store1");   // nullptr when unknown
//   registry.Open(entry->ref, snapshot, archive);
//
// Opening fails with the first datastore that cannot be used, naming it: a path that is not
// there or not a datastore, a key file that cannot be read or unwrapped. Immutable after Open;
// thread-safe. Upstreams are shared with the sessions and fetches that use them.
#ifndef CHUNKCACHE_SERVICE_DATASTORE_CATALOG_H_
#define CHUNKCACHE_SERVICE_DATASTORE_CATALOG_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/snapshot_session.h"
#include "service/server_settings.h"

namespace chunkcache {

struct CatalogEntry {
  DatastoreRef ref;             // name, upstream, key (null without a keyfile)
  std::filesystem::path path;   // empty for a remote datastore
  std::string key_fingerprint;  // "" without a key
};

class DatastoreCatalog {
 public:
  static absl::StatusOr<std::unique_ptr<DatastoreCatalog>> Open(
      const std::vector<DatastoreSettings>& datastores);

  const CatalogEntry* Find(std::string_view name) const;
  const std::vector<CatalogEntry>& entries() const { return entries_; }

 private:
  explicit DatastoreCatalog(std::vector<CatalogEntry> entries) : entries_(std::move(entries)) {}
  std::vector<CatalogEntry> entries_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_DATASTORE_CATALOG_H_
