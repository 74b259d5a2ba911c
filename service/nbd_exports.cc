#include "service/nbd_exports.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "format/blob.h"
#include "format/string_view_compat.h"
#include "nbd/export_name.h"
#include "service/server_settings.h"

namespace chunkcache {
namespace {

// Opening an archive reads its manifest and index: a couple of workers are enough for NBD
// clients, which open once per connection.
constexpr size_t kOpenThreads = 2;
constexpr size_t kMaxQueuedOpens = 64;

NbdExport ExportOf(const std::shared_ptr<SnapshotSession>& session, const CatalogEntry& entry) {
  NbdExport exported;
  exported.session = session;
  if (session->crypt_mode() == CryptMode::kEncrypt) exported.key = entry.ref.key;
  exported.description =
      absl::StrCat(ToAbsl(CryptModeName(session->crypt_mode())), " archive ", session->archive(),
                   " of ", session->snapshot().ToString(), " in datastore ", entry.ref.name);
  return exported;
}

}  // namespace

NbdExports::NbdExports(const DatastoreCatalog* catalog, const ArchiveResolver* resolver,
                       const SessionRegistry* registry, const ClientAuthorizer* authorizer,
                       std::vector<std::string> configured_exports)
    : catalog_(catalog),
      resolver_(resolver),
      registry_(registry),
      authorizer_(authorizer),
      configured_exports_(std::move(configured_exports)),
      pool_(kOpenThreads, kMaxQueuedOpens),
      opener_(resolver, &pool_) {}

absl::Status NbdExports::Authorize(const NbdClient& client, const std::string& datastore,
                                   const SnapshotName& snapshot) const {
  if (authorizer_ == nullptr || !authorizer_->enabled()) return absl::OkStatus();
  absl::StatusOr<const ClientIdentity*> identity =
      authorizer_->AuthenticateSubject(client.cert_subject);
  if (!identity.ok()) return identity.status();
  return authorizer_->Authorize(*identity, datastore, snapshot.namespace_components);
}

void NbdExports::Open(const NbdClient& client, std::string_view name, NbdExportCallback done) {
  absl::StatusOr<nbd::ExportName> parsed = nbd::ParseExportName(name);
  if (!parsed.ok()) {
    done(parsed.status());
    return;
  }
  if (absl::Status valid = ValidateDatastoreName(parsed->datastore, "export name datastore");
      !valid.ok()) {
    done(valid);
    return;
  }
  // Before the catalog: a client may not learn which datastores exist that it may not read.
  if (absl::Status allowed = Authorize(client, parsed->datastore, parsed->snapshot);
      !allowed.ok()) {
    done(allowed);
    return;
  }
  ArchiveRequest request;
  request.datastore = catalog_->Find(parsed->datastore);
  if (request.datastore == nullptr) {
    done(absl::NotFoundError(absl::StrCat("unknown datastore '", parsed->datastore, "'")));
    return;
  }
  request.snapshot = std::move(parsed->snapshot);
  request.archive = std::move(parsed->archive);
  const CatalogEntry* entry = request.datastore;
  if (std::shared_ptr<SnapshotSession> session = resolver_->FindOpen(request)) {
    done(ExportOf(session, *entry));
    return;
  }
  auto shared_done = std::make_shared<NbdExportCallback>(std::move(done));
  OpenTicket ticket = opener_.Open(request, [shared_done, entry](SessionResult session) {
    if (!session.ok()) {
      (*shared_done)(session.status());
    } else {
      (*shared_done)(ExportOf(*session, *entry));
    }
  });
  if (ticket.ready()) {
    SessionResult session = ticket.TakeResult();
    if (!session.ok()) {
      (*shared_done)(session.status());
    } else {
      (*shared_done)(ExportOf(*session, *entry));
    }
  }
}

std::vector<std::string> NbdExports::List(const NbdClient& client) const {
  std::vector<std::string> names = configured_exports_;
  std::vector<std::string> open;
  for (const std::shared_ptr<SnapshotSession>& session : registry_->OpenSessions()) {
    open.push_back(
        nbd::FormatExportName(session->datastore(), session->snapshot(), session->archive()));
  }
  std::sort(open.begin(), open.end());
  for (std::string& name : open) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  std::vector<std::string> allowed;
  for (std::string& name : names) {
    absl::StatusOr<nbd::ExportName> parsed = nbd::ParseExportName(name);
    if (parsed.ok() && Authorize(client, parsed->datastore, parsed->snapshot).ok()) {
      allowed.push_back(std::move(name));
    }
  }
  return allowed;
}

}  // namespace chunkcache
