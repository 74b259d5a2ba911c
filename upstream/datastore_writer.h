// DatastoreWriter: writes a PBS datastore directory the way the PBS server lays it out
// (spec §4): chunk blobs in `.chunks/<4 hex>/<64 hex>`, snapshot files in
// `[ns/A/]<type>/<id>/<time>/`, and the group's `owner` file.
//
//   absl::StatusOr<std::unique_ptr<DatastoreWriter>> store = DatastoreWriter::Create(dir);
//   (*store)->WriteChunk(digest, blob);                       // skipped if already stored
//   (*store)->WriteSnapshotFile(snapshot, "drive-scsi0.img.fidx", index_bytes);
//   (*store)->WriteSnapshotFile(snapshot, "index.json.blob", manifest_blob);   // last
//   (*store)->EnsureGroupOwner(snapshot);
//   (*store)->Sync();
//
// Chunk prefix directories are created on demand, not all 65536 up front as PBS does: readers
// never need the empty ones, and a test datastore stays small. Every file is written atomically
// (temporary file in the same directory, then rename), so a reader sees either nothing or the
// whole file; nothing is fsync'ed per file — call Sync() once at the end (PBS's default
// "filesystem" sync level). Names are validated as in DatastoreUpstream and every path is
// walked with O_NOFOLLOW below the root directory descriptor (confined_fs.h).
//
// Thread safety: methods may be called concurrently; two writers of the same chunk both
// succeed and leave one complete file.
#ifndef CHUNKCACHE_UPSTREAM_DATASTORE_WRITER_H_
#define CHUNKCACHE_UPSTREAM_DATASTORE_WRITER_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/digest.h"
#include "format/snapshot_name.h"
#include "upstream/datastore_paths.h"
#include "upstream/unique_fd.h"

namespace chunkcache {

class DatastoreWriter {
 public:
  // Creates `path` (with parents) and its `.chunks` directory when missing; an existing
  // datastore is opened as is.
  static absl::StatusOr<std::unique_ptr<DatastoreWriter>> Create(const std::filesystem::path& path);

  // True when a non-empty chunk file for `digest` exists (a 0-byte S3 marker does not count).
  absl::StatusOr<bool> HasChunk(const ChunkDigest& digest);
  // Stores `blob` as the chunk `digest` unless HasChunk: existing chunk files are never
  // rewritten. Returns whether it wrote the file. The caller vouches that `blob` is the
  // encoding of the chunk named `digest`.
  absl::StatusOr<bool> WriteChunk(const ChunkDigest& digest, std::string_view blob);

  // Writes (or replaces) `file_name` in the snapshot directory, creating the directories.
  absl::Status WriteSnapshotFile(const SnapshotName& snapshot, std::string_view file_name,
                                 std::string_view bytes);
  // Writes the group's `owner` file ("<auth_id>\n") unless it exists.
  absl::Status EnsureGroupOwner(const SnapshotName& snapshot,
                                std::string_view auth_id = kDefaultOwner);

  // Flushes everything written so far to stable storage (syncfs).
  absl::Status Sync();

  const std::filesystem::path& path() const { return path_; }

 private:
  DatastoreWriter(std::filesystem::path path, UniqueFd root_fd, UniqueFd chunks_fd)
      : path_(std::move(path)), root_fd_(std::move(root_fd)), chunks_fd_(std::move(chunks_fd)) {}

  std::filesystem::path path_;
  UniqueFd root_fd_;
  UniqueFd chunks_fd_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_DATASTORE_WRITER_H_
