#include "client/cli/datastore_create.h"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "client/cli/archive_import.h"
#include "client/cli/command_status.h"
#include "client/cli/fd_io.h"
#include "client/cli/key_options.h"
#include "client/cli/snapshot_access.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/manifest.h"
#include "format/snapshot_name.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_upstream.h"
#include "upstream/datastore_writer.h"

namespace chunkcache {
namespace {

struct CreateOptions {
  std::string path;
  std::string snapshot;
  std::string archive;
  std::string image;
  std::string stream;
  std::string blob;
  std::string owner = std::string(kDefaultOwner);
  KeyOptions key;
};

enum class ArchiveInput { kImage, kStream, kBlob };

// Which input the archive name asks for, and that exactly that one was given.
absl::StatusOr<ArchiveInput> CheckInputOption(const CreateOptions& options) {
  const int given = !options.image.empty() + !options.stream.empty() + !options.blob.empty();
  if (given != 1) {
    return absl::InvalidArgumentError("give exactly one of --image, --stream or --blob");
  }
  const std::string& archive = options.archive;
  if (archive == kManifestFileName) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s is the manifest, not an archive name", archive));
  }
  if (archive.ends_with(".fidx")) {
    if (options.image.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("archive %s is a fixed index: give the input with --image", archive));
    }
    return ArchiveInput::kImage;
  }
  if (archive.ends_with(".didx")) {
    if (options.stream.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("archive %s is a dynamic index: give the input with --stream", archive));
    }
    return ArchiveInput::kStream;
  }
  if (options.blob.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("archive %s is a blob: give the input with --blob", archive));
  }
  return ArchiveInput::kBlob;
}

// The manifest files already in the snapshot, after checking that the new archive fits in.
absl::StatusOr<std::vector<ManifestFile>> ExistingFiles(const std::string& path,
                                                        const SnapshotName& snapshot,
                                                        const std::string& archive,
                                                        const CryptConfig* key) {
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream = DatastoreUpstream::Open(path);
  if (!upstream.ok()) return upstream.status();
  absl::StatusOr<Manifest> manifest = ReadManifest(**upstream, snapshot);
  if (absl::IsNotFound(manifest.status())) return std::vector<ManifestFile>();
  if (!manifest.ok()) return manifest.status();
  if (manifest->FindFile(archive) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrFormat("snapshot %s already has archive %s; snapshots are not modified",
                        snapshot.RelativeDir(), archive));
  }
  if (key == nullptr) {
    absl::Status key_ok = CheckManifestKey(*manifest, nullptr, snapshot);
    if (!key_ok.ok()) return key_ok;
  } else {
    if (!manifest->NeedsKey()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("snapshot %s is not encrypted: an encrypted archive cannot be added "
                          "to it (use a new snapshot)",
                          snapshot.RelativeDir()));
    }
    absl::Status key_ok = CheckManifestKey(*manifest, key, snapshot);
    if (!key_ok.ok()) return key_ok;
  }
  return manifest->files();
}

absl::Status RunDatastoreCreate(const CreateOptions& options) {
  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(options.snapshot);
  if (!snapshot.ok()) return snapshot.status();
  absl::Status archive_ok = ValidateArchiveName(options.archive);
  if (!archive_ok.ok()) return archive_ok;
  absl::StatusOr<ArchiveInput> input_kind = CheckInputOption(options);
  if (!input_kind.ok()) return input_kind.status();
  if (options.owner.empty() || options.owner.find_first_of("\n\r") != std::string::npos) {
    return absl::InvalidArgumentError("--owner must be one line, e.g. root@pam");
  }
  absl::StatusOr<std::optional<CryptConfig>> key = LoadKey(options.key);
  if (!key.ok()) return key.status();
  const CryptConfig* key_ptr = key->has_value() ? &**key : nullptr;

  const std::string& input_path = *input_kind == ArchiveInput::kImage    ? options.image
                                  : *input_kind == ArchiveInput::kStream ? options.stream
                                                                         : options.blob;
  absl::StatusOr<InputFile> input = OpenInputFile(input_path);
  if (!input.ok()) return input.status();

  absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer = DatastoreWriter::Create(options.path);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<std::vector<ManifestFile>> files =
      ExistingFiles(options.path, *snapshot, options.archive, key_ptr);
  if (!files.ok()) return files.status();

  absl::StatusOr<ImportedArchive> archive;
  switch (*input_kind) {
    case ArchiveInput::kImage:
      archive = ImportFixedImage(input->fd(), input->name(), options.archive, **writer, key_ptr);
      break;
    case ArchiveInput::kStream:
      archive = ImportDynamicStream(input->fd(), input->name(), options.archive, **writer, key_ptr);
      break;
    case ArchiveInput::kBlob:
      archive = ImportBlobFile(input->fd(), input->name(), options.archive, key_ptr);
      break;
  }
  if (!archive.ok()) return archive.status();

  // Order matters: chunks, then the archive file, then the manifest, which makes the snapshot
  // (or the new archive) visible to readers only once everything it names is stored.
  absl::Status status =
      (*writer)->WriteSnapshotFile(*snapshot, options.archive, archive->file_bytes);
  if (!status.ok()) return status;
  files->push_back(archive->manifest_entry);
  ManifestContent content{.backup_type = snapshot->backup_type,
                          .backup_id = snapshot->backup_id,
                          .backup_time = snapshot->backup_time,
                          .files = *files};
  const std::string manifest_json = EncodeManifestJson(content, key_ptr);
  // The manifest is never encrypted (spec §4.3); the key only signs it.
  absl::StatusOr<std::string> manifest_blob = EncodeBlob(manifest_json, {.compress = true});
  if (!manifest_blob.ok()) return manifest_blob.status();
  status = (*writer)->EnsureGroupOwner(*snapshot, options.owner);
  if (!status.ok()) return status;
  status = (*writer)->WriteSnapshotFile(*snapshot, kManifestFileName, *manifest_blob);
  if (!status.ok()) return status;
  status = (*writer)->Sync();
  if (!status.ok()) return status;

  const ImportStats& stats = archive->stats;
  const uint64_t bytes_written =
      stats.chunk_bytes_written + archive->file_bytes.size() + manifest_blob->size();
  std::printf("created %s: size=%" PRIu64 " chunks=%" PRIu64 " distinct=%" PRIu64
              " new_chunks=%" PRIu64 " bytes_written=%" PRIu64 "\n",
              ArchivePath(*snapshot, options.archive).c_str(), archive->manifest_entry.size,
              stats.chunks, stats.distinct_chunks, stats.new_chunks, bytes_written);
  return absl::OkStatus();
}

}  // namespace

void RegisterDatastoreCreateCommand(CLI::App& datastore) {
  auto options = std::make_shared<CreateOptions>();
  CLI::App* create = datastore.add_subcommand(
      "create", "Store an image, stream or blob as an archive of a snapshot");
  create->add_option("--path", options->path, "Datastore directory (created if missing)")
      ->required();
  create->add_option("--snapshot", options->snapshot, "[ns/NS/]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ")
      ->required();
  create
      ->add_option("--archive", options->archive,
                   "Archive name: NAME.img.fidx, NAME.didx or NAME.blob")
      ->required();
  create->add_option("--image", options->image, "Raw image for a .fidx archive ('-': stdin)");
  create->add_option("--stream", options->stream, "Byte stream for a .didx archive ('-': stdin)");
  create->add_option("--blob", options->blob, "File for a .blob archive ('-': stdin)");
  create->add_option("--owner", options->owner, "Owner of a new backup group (default root@pam)");
  AddKeyOptions(create, &options->key);
  SetCommandBody(create, [options] { return RunDatastoreCreate(*options); });
}

}  // namespace chunkcache
