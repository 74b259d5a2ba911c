#include "client/cli/snapshot_ref_parse.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "format/snapshot_name.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr size_t kMaxDatastoreNameLength = 64;

absl::Status WithFlag(std::string_view flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrFormat("%s: %s", flag, ToStd(status.message())));
}

}  // namespace

std::string ArchiveFileName(std::string_view archive) {
  if (absl::EndsWith(ToAbsl(archive), ".img")) return absl::StrFormat("%s.fidx", archive);
  if (absl::EndsWith(ToAbsl(archive), ".pxar")) return absl::StrFormat("%s.didx", archive);
  return std::string(archive);
}

absl::Status ValidateDatastoreName(std::string_view datastore) {
  bool valid = !datastore.empty() && datastore.size() <= kMaxDatastoreNameLength &&
               (absl::ascii_isalnum(datastore[0]) || datastore[0] == '_');
  for (char c : datastore) {
    valid = valid && (absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-');
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "--datastore: invalid datastore name \"%s\": expected the name the server has configured "
      "([A-Za-z0-9_][A-Za-z0-9._-]*, at most %d characters), not a path",
      absl::CHexEscape(ToAbsl(datastore.substr(0, kMaxDatastoreNameLength * 2))),
      kMaxDatastoreNameLength));
}

absl::StatusOr<v1::SnapshotRef> ParseSnapshotRef(std::string_view datastore,
                                                 std::string_view snapshot,
                                                 std::string_view archive) {
  if (absl::Status valid = ValidateDatastoreName(datastore); !valid.ok()) return valid;
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(snapshot);
  if (!name.ok()) {
    return WithFlag("--snapshot", name.status());
  }
  const std::string archive_file = ArchiveFileName(archive);
  if (absl::Status valid = ValidateArchiveName(archive_file); !valid.ok()) {
    return WithFlag("--archive", valid);
  }
  v1::SnapshotRef ref;
  ref.set_datastore(std::string(datastore));
  ref.set_namespace_(name->NamespaceName());
  ref.set_backup_type(name->backup_type);
  ref.set_backup_id(name->backup_id);
  ref.set_backup_time(name->backup_time);
  ref.set_archive(archive_file);
  return ref;
}

std::string DescribeSnapshotRef(const v1::SnapshotRef& ref) {
  absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(ref.namespace_(), ref.backup_type(),
                                                               ref.backup_id(), ref.backup_time());
  const std::string snapshot = name.ok() ? name->RelativeDir()
                                         : absl::StrFormat("%s/%s/%d", ref.backup_type(),
                                                           ref.backup_id(), ref.backup_time());
  return absl::StrFormat("%s:%s/%s", ref.datastore(), snapshot, ref.archive());
}

}  // namespace chunkcache
