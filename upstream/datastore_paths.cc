#include "upstream/datastore_paths.h"

#include <tuple>

#include "absl/strings/str_format.h"

namespace chunkcache {

absl::Status ValidateSnapshotFileName(std::string_view name) {
  if (name == kManifestFileName) return absl::OkStatus();
  return ValidateArchiveName(name);
}

absl::StatusOr<std::vector<std::string>> SnapshotDirComponents(const SnapshotName& snapshot) {
  // Parsing the fields again catches bad characters in any of them; comparing the result
  // catches a namespace component that itself contains "/" (it would re-parse as two).
  absl::StatusOr<SnapshotName> checked = SnapshotName::FromFields(
      snapshot.NamespaceName(), snapshot.backup_type, snapshot.backup_id, snapshot.backup_time);
  if (!checked.ok()) return checked.status();
  if (!(*checked == snapshot)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid snapshot name '%s': a namespace component is not a single valid name",
        snapshot.RelativeDir()));
  }
  std::vector<std::string> components;
  for (const std::string& ns : checked->namespace_components) {
    components.push_back("ns");
    components.push_back(ns);
  }
  components.push_back(checked->backup_type);
  components.push_back(checked->backup_id);
  components.push_back(checked->TimeText());
  return components;
}

absl::StatusOr<std::vector<std::string>> GroupDirComponents(const SnapshotName& snapshot) {
  absl::StatusOr<std::vector<std::string>> components = SnapshotDirComponents(snapshot);
  if (!components.ok()) return components.status();
  components->pop_back();
  return components;
}

bool SnapshotNameLess(const SnapshotName& a, const SnapshotName& b) {
  return std::tie(a.namespace_components, a.backup_type, a.backup_id, a.backup_time) <
         std::tie(b.namespace_components, b.backup_type, b.backup_id, b.backup_time);
}

std::string ChunkPrefixDirName(const ChunkDigest& digest) { return digest.Hex().substr(0, 4); }

std::string ChunkRelativePath(const ChunkDigest& digest) {
  std::string hex = digest.Hex();
  return absl::StrFormat("%s/%s/%s", kChunkDirName, hex.substr(0, 4), hex);
}

}  // namespace chunkcache
