// The API's SnapshotRef from the CLI's --datastore, --snapshot and --archive values. The
// snapshot is written as PBS writes it, `[ns/NS/]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ` (the time is
// RFC 3339 UTC and becomes unix seconds), parsed by format/'s SnapshotName so the CLI accepts
// exactly the names the server does. Bad names are INVALID_ARGUMENT before any RPC is made.
//
//   absl::StatusOr<v1::SnapshotRef> ref =
//       ParseSnapshotRef("store1", "ns/prod/vm/100/2026-01-02T00:00:00Z", "drive-scsi0.img");
//   // datastore "store1", namespace "prod", vm/100, backup_time 1767312000,
//   // archive "drive-scsi0.img.fidx"
#ifndef CHUNKCACHE_CLIENT_CLI_SNAPSHOT_REF_PARSE_H_
#define CHUNKCACHE_CLIENT_CLI_SNAPSHOT_REF_PARSE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "chunkcache/v1/chunkcache.pb.h"

namespace chunkcache {

// PBS's short archive names get their index extension, as proxmox-backup-client accepts
// them: "x.img" -> "x.img.fidx", "x.pxar" -> "x.pxar.didx"; other names are kept.
std::string ArchiveFileName(std::string_view archive);

// A datastore name as configured on a server: [A-Za-z0-9_][A-Za-z0-9._-]*, at most 64 long.
absl::Status ValidateDatastoreName(std::string_view datastore);

absl::StatusOr<v1::SnapshotRef> ParseSnapshotRef(std::string_view datastore,
                                                 std::string_view snapshot,
                                                 std::string_view archive);

// "store1:ns/prod/vm/100/2026-01-02T00:00:00Z/drive-scsi0.img.fidx", for messages.
std::string DescribeSnapshotRef(const v1::SnapshotRef& ref);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_SNAPSHOT_REF_PARSE_H_
