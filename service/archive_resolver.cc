#include "service/archive_resolver.h"

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "service/server_settings.h"
#include "upstream/datastore_paths.h"

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

std::shared_ptr<SnapshotSession> ArchiveResolver::FindOpen(const ArchiveRequest& request) const {
  return registry_->FindOpen(request.datastore->ref.name, request.snapshot, request.archive);
}

absl::StatusOr<ArchiveRequest> ArchiveResolver::CheckSnapshotFile(
    const grpc::ServerContextBase& context, const v1::SnapshotRef& ref,
    std::string_view file_name) const {
  absl::StatusOr<const ClientIdentity*> client = authorizer_->Authenticate(context);
  if (!client.ok()) return client.status();
  if (absl::Status valid = ValidateSnapshotFileName(file_name); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("file_name: ", valid.message()));
  }
  v1::SnapshotRef file = ref;
  file.set_archive(std::string(file_name));
  return Check(context, file);
}

absl::StatusOr<DatastoreRequest> ArchiveResolver::CheckDatastore(
    const grpc::ServerContextBase& context, std::string_view datastore,
    std::string_view field) const {
  absl::StatusOr<const ClientIdentity*> client = authorizer_->Authenticate(context);
  if (!client.ok()) return client.status();
  if (absl::Status valid = ValidateDatastoreName(datastore, field); !valid.ok()) return valid;
  // No namespace: only a rule for the whole datastore (or "*") matches.
  if (absl::Status allowed = authorizer_->Authorize(*client, datastore, {}); !allowed.ok()) {
    if (!absl::IsPermissionDenied(allowed)) return allowed;
    return absl::PermissionDeniedError(absl::StrCat(
        allowed.message(), " (this call needs an allow rule covering the whole datastore)"));
  }
  DatastoreRequest request;
  request.datastore = catalog_->Find(datastore);
  if (request.datastore == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown datastore '", ToAbsl(datastore), "'"));
  }
  if (*client != nullptr) request.client = (*client)->name;
  return request;
}

}  // namespace chunkcache
