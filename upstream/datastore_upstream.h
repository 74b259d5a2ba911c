// DatastoreUpstream: reads a PBS datastore directory (local disk or a network mount).
//
//   absl::StatusOr<std::unique_ptr<DatastoreUpstream>> store =
//       DatastoreUpstream::Open("/srv/pbs");
//   absl::StatusOr<std::string> blob = (*store)->ReadChunk(digest);
//
// Layout (spec §4): chunks in `.chunks/<first 4 hex>/<64 hex>`, snapshots in
// `[ns/A/ns/B/]<type>/<id>/<time>/`. Every name is validated before it becomes a path
// (INVALID_ARGUMENT otherwise, nothing opened), and every file is opened below the datastore's
// root directory descriptor one component at a time with O_NOFOLLOW (confined_fs.h): a symbolic
// link inside the datastore is refused (PERMISSION_DENIED), never followed.
//
// Errors name the path relative to the datastore: NOT_FOUND for a missing snapshot, file or
// chunk, and for a 0-byte chunk file (the "evicted" marker of an S3-backed store, whose data is
// only in the object store); DATA_LOSS for a file larger than any valid one of its kind;
// UNAVAILABLE for other I/O errors (retryable).
//
// Thread safety: all methods may be called concurrently. The object holds only two directory
// descriptors opened in Open(); every read uses its own file descriptor and pread.
#ifndef CHUNKCACHE_UPSTREAM_DATASTORE_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_DATASTORE_UPSTREAM_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/blob.h"
#include "upstream/unique_fd.h"
#include "upstream/upstream.h"

namespace chunkcache {

// Largest chunk file accepted: the largest chunk plus the largest blob header.
inline constexpr size_t kMaxChunkFileSize = kMaxChunkSize + 64;
// Largest index file accepted (1 GiB: a fixed index of a 128 TiB image with 4 MiB chunks).
inline constexpr size_t kMaxIndexFileSize = size_t{1} << 30;

class DatastoreUpstream final : public Upstream {
 public:
  // Opens the datastore at `path` (symlinks in `path` itself are followed: it is trusted
  // configuration). NOT_FOUND when `path` does not exist, FAILED_PRECONDITION when it is not a
  // datastore (no `.chunks` directory), UNAVAILABLE on other errors.
  static absl::StatusOr<std::unique_ptr<DatastoreUpstream>> Open(const std::filesystem::path& path);

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override;
  // `options` is not needed: the stored blob says how it is encrypted.
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override;
  // Every directory `[ns/…/]<type>/<id>/<time>` with a valid name that holds an
  // `index.json.blob`, in all namespaces, sorted by namespace, type, id and time. Unfinished
  // snapshots (no manifest), odd names and symbolic links are skipped.
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override;
  // OK when the root and `.chunks` can be opened and listed now.
  absl::Status CheckReadable() override;
  std::string Describe() const override;

  const std::filesystem::path& path() const { return path_; }

 private:
  DatastoreUpstream(std::filesystem::path path, UniqueFd root_fd, UniqueFd chunks_fd)
      : path_(std::move(path)), root_fd_(std::move(root_fd)), chunks_fd_(std::move(chunks_fd)) {}

  std::filesystem::path path_;
  UniqueFd root_fd_;
  UniqueFd chunks_fd_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_DATASTORE_UPSTREAM_H_
