// Names and relative paths inside a PBS datastore (spec §4.1–4.2), built only from names that
// passed validation, so a client-supplied name can never point outside the datastore.
//
//   absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot);
//   // {"ns", "enc", "vm", "100", "2026-01-02T00:00:00Z"}
//   ChunkRelativePath(digest);   // ".chunks/bb9f/bb9f8df6…3af8"
#ifndef CHUNKCACHE_UPSTREAM_DATASTORE_PATHS_H_
#define CHUNKCACHE_UPSTREAM_DATASTORE_PATHS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/digest.h"
#include "format/snapshot_name.h"

namespace chunkcache {

inline constexpr std::string_view kChunkDirName = ".chunks";
inline constexpr std::string_view kManifestFileName = "index.json.blob";
inline constexpr std::string_view kOwnerFileName = "owner";
inline constexpr std::string_view kDefaultOwner = "root@pam";

// A file a client may ask for in a snapshot directory: the manifest or an archive name
// (ValidateArchiveName). INVALID_ARGUMENT otherwise.
absl::Status ValidateSnapshotFileName(std::string_view name);

// Re-validates every field of `snapshot` (it is a plain struct, so it may not come from
// SnapshotName::Parse) and returns the directory components of its path relative to the
// datastore root: ns/<a>/ns/<b>/<type>/<id>/<time>. INVALID_ARGUMENT on any bad field.
absl::StatusOr<std::vector<std::string>> SnapshotDirComponents(const SnapshotName& snapshot);

// The same for the group directory (without the time component).
absl::StatusOr<std::vector<std::string>> GroupDirComponents(const SnapshotName& snapshot);

// Orders snapshots by namespace components, type, id, then time (listing order).
bool SnapshotNameLess(const SnapshotName& a, const SnapshotName& b);

// "bb9f": the chunk-store prefix directory of `digest`.
std::string ChunkPrefixDirName(const ChunkDigest& digest);
// ".chunks/bb9f/<64 hex>".
std::string ChunkRelativePath(const ChunkDigest& digest);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_DATASTORE_PATHS_H_
