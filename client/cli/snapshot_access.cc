#include "client/cli/snapshot_access.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "upstream/datastore_paths.h"

namespace chunkcache {
namespace {

absl::Status Prefixed(const absl::Status& status, std::string_view prefix) {
  return absl::Status(status.code(), absl::StrFormat("%s: %s", prefix, status.message()));
}

}  // namespace

std::string ArchivePath(const SnapshotName& snapshot, std::string_view archive) {
  return absl::StrFormat("%s/%s", snapshot.RelativeDir(), archive);
}

absl::StatusOr<Manifest> ReadManifest(Upstream& upstream, const SnapshotName& snapshot) {
  absl::StatusOr<std::string> blob = upstream.ReadSnapshotFile(snapshot, kManifestFileName);
  if (!blob.ok()) return blob.status();
  absl::StatusOr<Manifest> manifest = Manifest::FromBlob(*blob);
  if (!manifest.ok()) {
    return Prefixed(manifest.status(), ArchivePath(snapshot, kManifestFileName));
  }
  return manifest;
}

absl::Status CheckManifestKey(const Manifest& manifest, const CryptConfig* key,
                              const SnapshotName& snapshot) {
  if (key == nullptr) {
    if (!manifest.NeedsKey()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrFormat(
        "snapshot %s is encrypted (key fingerprint %s): pass --keyfile with its key",
        snapshot.RelativeDir(), manifest.key_fingerprint().value_or("not recorded")));
  }
  absl::Status status = manifest.VerifyKey(key);
  if (!status.ok()) return Prefixed(status, absl::StrFormat("snapshot %s", snapshot.RelativeDir()));
  return absl::OkStatus();
}

absl::StatusOr<const ManifestFile*> FindArchive(const Manifest& manifest, std::string_view archive,
                                                const SnapshotName& snapshot) {
  const ManifestFile* file = manifest.FindFile(archive);
  if (file != nullptr) return file;
  std::vector<std::string> names;
  for (const ManifestFile& f : manifest.files()) names.push_back(f.filename);
  return absl::NotFoundError(absl::StrFormat("snapshot %s has no archive %s (it has: %s)",
                                             snapshot.RelativeDir(), archive,
                                             names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

absl::StatusOr<ChunkIndex> ReadCheckedIndex(Upstream& upstream, const SnapshotName& snapshot,
                                            const Manifest& manifest, std::string_view archive) {
  absl::StatusOr<std::string> bytes = upstream.ReadSnapshotFile(snapshot, archive);
  if (!bytes.ok()) return bytes.status();
  const std::string shown = ArchivePath(snapshot, archive);
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*bytes);
  if (!index.ok()) return Prefixed(index.status(), shown);
  absl::Status matches = manifest.CheckIndex(archive, *index);
  if (!matches.ok()) return Prefixed(matches, shown);
  return index;
}

absl::StatusOr<std::string> ReadCheckedBlobFile(Upstream& upstream, const SnapshotName& snapshot,
                                                const Manifest& manifest,
                                                std::string_view archive) {
  absl::StatusOr<std::string> bytes = upstream.ReadSnapshotFile(snapshot, archive);
  if (!bytes.ok()) return bytes.status();
  absl::Status matches = manifest.CheckBlobFile(archive, *bytes);
  if (!matches.ok()) return Prefixed(matches, ArchivePath(snapshot, archive));
  return bytes;
}

BlobDecodeOptions ChunkDecodeOptions(const ChunkIndex& index, size_t entry, CryptMode mode,
                                     const CryptConfig* key, std::string_view label) {
  BlobDecodeOptions options;
  options.key = key;
  options.expected_digest = index.digest(entry);
  options.expected_size = index.range(entry).size();
  options.expected_mode = mode;
  options.max_decoded_size = kMaxChunkSize;
  options.label = label;
  return options;
}

}  // namespace chunkcache
