// What the NBD server needs from the service: turning an export name into an open archive
// session the client may read, and the list of names NBD_OPT_LIST shows. nbd/ does not know
// the datastores, the authorization rules or how archives are opened; the service implements
// this interface with the same validation, authorization and SessionRegistry as its gRPC
// calls (service/nbd_export_resolver.h).
//
//   resolver->Open(client, "store1/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx",
//                  [](absl::StatusOr<NbdExport> exported) { ... });
#ifndef CHUNKCACHE_NBD_NBD_EXPORT_H_
#define CHUNKCACHE_NBD_NBD_EXPORT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "cache/snapshot_session.h"
#include "format/crypt_config.h"

namespace chunkcache {

// Who is connected (for logs and authorization).
struct NbdClient {
  std::string peer;  // "127.0.0.1:41234", "[::1]:41234" or "unix"
  bool tls = false;  // the connection went through NBD_OPT_STARTTLS
  // The subject of the client's verified TLS certificate, RFC 2253 as gRPC writes it
  // ("CN=node-a,O=example"); empty without one.
  std::string cert_subject;
};

struct NbdExport {
  std::shared_ptr<SnapshotSession> session;
  // The archive's key when it is encrypted (its zero chunk has a keyed digest), else null.
  std::shared_ptr<const CryptConfig> key;
  std::string description;  // NBD_INFO_DESCRIPTION
};

using NbdExportCallback = absl::AnyInvocable<void(absl::StatusOr<NbdExport>)>;

class NbdExportResolver {
 public:
  virtual ~NbdExportResolver() = default;

  // Resolves `name` for `client`; `done` runs exactly once, on any thread, possibly before
  // Open returns. Errors: INVALID_ARGUMENT (a name that is not an archive path),
  // PERMISSION_DENIED, NOT_FOUND (datastore, snapshot or archive), others as opening an
  // archive fails (UNAVAILABLE, DATA_LOSS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED).
  virtual void Open(const NbdClient& client, std::string_view name, NbdExportCallback done) = 0;

  // The export names `client` may read that NBD_OPT_LIST shows. Never blocks on I/O.
  virtual std::vector<std::string> List(const NbdClient& client) const = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_NBD_NBD_EXPORT_H_
