// Reading one snapshot through an Upstream with the checks a PBS client makes after a download
// (spec §4.3–4.4): the manifest decodes, the key matches it, and an index or blob file matches
// its manifest entry. Shared by `datastore cat` and `datastore verify`.
//
//   absl::StatusOr<Manifest> manifest = ReadManifest(upstream, snapshot);
//   absl::Status key_ok = CheckManifestKey(*manifest, key, snapshot);
//   absl::StatusOr<ChunkIndex> index = ReadCheckedIndex(upstream, snapshot, *manifest, name);
#ifndef CHUNKCACHE_CLIENT_CLI_SNAPSHOT_ACCESS_H_
#define CHUNKCACHE_CLIENT_CLI_SNAPSHOT_ACCESS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/manifest.h"
#include "format/snapshot_name.h"
#include "upstream/upstream.h"

namespace chunkcache {

// Reads and decodes `index.json.blob`; errors are prefixed with the snapshot.
absl::StatusOr<Manifest> ReadManifest(Upstream& upstream, const SnapshotName& snapshot);

// With a key: fingerprint and signature must match. Without: FAILED_PRECONDITION when the
// snapshot needs a key ("… is encrypted … pass --keyfile").
absl::Status CheckManifestKey(const Manifest& manifest, const CryptConfig* key,
                              const SnapshotName& snapshot);

// The manifest entry for `archive`; NOT_FOUND listing the archives the snapshot has.
absl::StatusOr<const ManifestFile*> FindArchive(const Manifest& manifest, std::string_view archive,
                                                const SnapshotName& snapshot);

// Reads and parses an index file and checks its size and checksum against the manifest.
absl::StatusOr<ChunkIndex> ReadCheckedIndex(Upstream& upstream, const SnapshotName& snapshot,
                                            const Manifest& manifest, std::string_view archive);

// Reads a blob file and checks its length and checksum against the manifest (not decoded).
absl::StatusOr<std::string> ReadCheckedBlobFile(Upstream& upstream, const SnapshotName& snapshot,
                                                const Manifest& manifest, std::string_view archive);

// Options to decode entry `entry` of `index`: expected digest, length and crypt mode.
// `label` must outlive the options.
BlobDecodeOptions ChunkDecodeOptions(const ChunkIndex& index, size_t entry, CryptMode mode,
                                     const CryptConfig* key, std::string_view label);

// "vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx".
std::string ArchivePath(const SnapshotName& snapshot, std::string_view archive);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_SNAPSHOT_ACCESS_H_
