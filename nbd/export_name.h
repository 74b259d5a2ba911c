// NBD export names: the PBS path of an archive, `DATASTORE/[ns/NS/…]TYPE/ID/TIME/ARCHIVE`,
// e.g. "store1/ns/prod/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx".
//
// The snapshot part and the archive are checked exactly as a gRPC SnapshotRef's fields are
// (SnapshotName::Parse, ValidateArchiveName); the datastore part is only split off here: the
// service checks it against its rules and its configured names (nbd/ does not know them).
//
//   absl::StatusOr<ExportName> name = ParseExportName(text);   // INVALID_ARGUMENT if bad
//   FormatExportName(name->datastore, name->snapshot, name->archive) == text;
#ifndef CHUNKCACHE_NBD_EXPORT_NAME_H_
#define CHUNKCACHE_NBD_EXPORT_NAME_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "format/snapshot_name.h"

namespace chunkcache::nbd {

struct ExportName {
  std::string datastore;
  SnapshotName snapshot;
  std::string archive;
};

absl::StatusOr<ExportName> ParseExportName(std::string_view text);
std::string FormatExportName(std::string_view datastore, const SnapshotName& snapshot,
                             std::string_view archive);

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_EXPORT_NAME_H_
