#include "client/cli/datastore_cat.h"

#include <signal.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "client/cli/command_status.h"
#include "client/cli/fd_io.h"
#include "client/cli/key_options.h"
#include "client/cli/snapshot_access.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/snapshot_name.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_upstream.h"

namespace chunkcache {
namespace {

struct CatOptions {
  std::string path;
  std::string snapshot;
  std::string archive;
  KeyOptions key;
};

absl::Status CatIndex(Upstream& upstream, const SnapshotName& snapshot, const Manifest& manifest,
                      const ManifestFile& file, const CryptConfig* key) {
  absl::StatusOr<ChunkIndex> index = ReadCheckedIndex(upstream, snapshot, manifest, file.filename);
  if (!index.ok()) return index.status();
  // Repeated chunks (zeros, pxar payload padding) often follow each other: keep the last one.
  std::optional<ChunkDigest> last_digest;
  std::string decoded;
  for (size_t entry = 0; entry < index->chunk_count(); ++entry) {
    const ChunkDigest& digest = index->digest(entry);
    if (last_digest != digest) {
      const std::string where = absl::StrFormat(
          "chunk %s (%s, entry %d at offset %d of %s)", digest.Hex(), ChunkRelativePath(digest),
          entry, index->range(entry).begin, ArchivePath(snapshot, file.filename));
      absl::StatusOr<std::string> blob = upstream.ReadChunk(digest);
      if (!blob.ok()) {
        return absl::Status(blob.status().code(),
                            absl::StrFormat("%s: %s", where, blob.status().message()));
      }
      absl::StatusOr<std::string> plain =
          DecodeBlob(*blob, ChunkDecodeOptions(*index, entry, file.crypt_mode, key, where));
      if (!plain.ok()) return plain.status();
      decoded = std::move(*plain);
      last_digest = digest;
    }
    absl::Status written = WriteAll(STDOUT_FILENO, decoded, "stdout");
    if (!written.ok()) return written;
  }
  return absl::OkStatus();
}

absl::Status CatBlob(Upstream& upstream, const SnapshotName& snapshot, const Manifest& manifest,
                     const ManifestFile& file, const CryptConfig* key) {
  absl::StatusOr<std::string> raw =
      ReadCheckedBlobFile(upstream, snapshot, manifest, file.filename);
  if (!raw.ok()) return raw.status();
  const std::string label = ArchivePath(snapshot, file.filename);
  BlobDecodeOptions options;
  options.key = key;
  options.expected_mode = file.crypt_mode;
  options.max_decoded_size = kMaxBlobFileSize;
  options.label = label;
  absl::StatusOr<std::string> plain = DecodeBlob(*raw, options);
  if (!plain.ok()) return plain.status();
  return WriteAll(STDOUT_FILENO, *plain, "stdout");
}

absl::Status RunDatastoreCat(const CatOptions& options) {
  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(options.snapshot);
  if (!snapshot.ok()) return snapshot.status();
  absl::Status archive_ok = ValidateArchiveName(options.archive);
  if (!archive_ok.ok()) return archive_ok;
  absl::StatusOr<std::optional<CryptConfig>> key = LoadKey(options.key);
  if (!key.ok()) return key.status();
  const CryptConfig* key_ptr = key->has_value() ? &**key : nullptr;

  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream =
      DatastoreUpstream::Open(options.path);
  if (!upstream.ok()) return upstream.status();
  absl::StatusOr<Manifest> manifest = ReadManifest(**upstream, *snapshot);
  if (!manifest.ok()) return manifest.status();
  absl::Status key_ok = CheckManifestKey(*manifest, key_ptr, *snapshot);
  if (!key_ok.ok()) return key_ok;
  absl::StatusOr<const ManifestFile*> file = FindArchive(*manifest, options.archive, *snapshot);
  if (!file.ok()) return file.status();

  // A closed pipe (`| head`) must end the command with an error, not kill it silently.
  ::signal(SIGPIPE, SIG_IGN);
  if (options.archive.ends_with(".blob")) {
    return CatBlob(**upstream, *snapshot, *manifest, **file, key_ptr);
  }
  return CatIndex(**upstream, *snapshot, *manifest, **file, key_ptr);
}

}  // namespace

void RegisterDatastoreCatCommand(CLI::App& datastore) {
  auto options = std::make_shared<CatOptions>();
  CLI::App* cat = datastore.add_subcommand("cat", "Write an archive's content to stdout");
  cat->add_option("--path", options->path, "Datastore directory")->required();
  cat->add_option("--snapshot", options->snapshot, "[ns/NS/]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ")
      ->required();
  cat->add_option("--archive", options->archive, "Archive name, e.g. drive-scsi0.img.fidx")
      ->required();
  AddKeyOptions(cat, &options->key);
  SetCommandBody(cat, [options] { return RunDatastoreCat(*options); });
}

}  // namespace chunkcache
