#include "service/archive_resolver.h"

#include "absl/strings/str_cat.h"
#include "service/server_settings.h"

namespace chunkcache {
std::string ArchiveRequest::Describe() const {
  return absl::StrCat(datastore != nullptr ? datastore->ref.name : "?", ":", snapshot.ToString(),
                      "/", archive);
}

absl::StatusOr<ArchiveRequest> ArchiveResolver::Check(const grpc::ServerContextBase& context,
                                                      const v1::SnapshotRef& ref) const {
  absl::StatusOr<const ClientIdentity*> client = authorizer_->Authenticate(context);
  if (!client.ok()) return client.status();

  if (absl::Status valid = ValidateDatastoreName(ref.datastore(), "snapshot.datastore");
      !valid.ok()) {
    return valid;
  }
  absl::StatusOr<SnapshotName> snapshot = SnapshotName::FromFields(
      ref.namespace_(), ref.backup_type(), ref.backup_id(), ref.backup_time());
  if (!snapshot.ok()) return snapshot.status();
  if (ref.archive().empty()) {
    return absl::InvalidArgumentError(
        "snapshot.archive: empty; name an archive such as "
        "drive-scsi0.img.fidx");
  }
  if (absl::Status valid = ValidateArchiveName(ref.archive()); !valid.ok()) {
    return valid;
  }

  if (absl::Status allowed =
          authorizer_->Authorize(*client, ref.datastore(), snapshot->namespace_components);
      !allowed.ok()) {
    return allowed;
  }

  ArchiveRequest request;
  request.datastore = catalog_->Find(ref.datastore());
  if (request.datastore == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown datastore '", ref.datastore(), "'"));
  }
  request.snapshot = *std::move(snapshot);
  request.archive = ref.archive();
  if (*client != nullptr) request.client = (*client)->name;
  return request;
}

absl::StatusOr<std::shared_ptr<SnapshotSession>> ArchiveResolver::Open(
    const ArchiveRequest& request) const {
  return registry_->Open(request.datastore->ref, request.snapshot, request.archive);
}

}  // namespace chunkcache
