#include "upstream/datastore_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "upstream/confined_fs.h"

namespace chunkcache {
namespace {

constexpr mode_t kDirMode = 0755;
constexpr mode_t kFileMode = 0644;

}  // namespace

absl::StatusOr<std::unique_ptr<DatastoreWriter>> DatastoreWriter::Create(
    const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return absl::UnavailableError(absl::StrFormat("cannot create datastore directory %s: %s",
                                                  path.string(), error.message()));
  }
  UniqueFd root(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return absl::UnavailableError(
        absl::StrFormat("cannot open datastore %s: %s", path.string(), std::strerror(errno)));
  }
  const std::string chunk_dir(kChunkDirName);
  absl::StatusOr<UniqueFd> chunks = MakeDirsBeneath(root.get(), {&chunk_dir, 1}, "", kDirMode);
  if (!chunks.ok()) {
    return absl::Status(chunks.status().code(), absl::StrFormat("datastore %s: %s", path.string(),
                                                                chunks.status().message()));
  }
  return std::unique_ptr<DatastoreWriter>(
      new DatastoreWriter(path, std::move(root), std::move(*chunks)));
}

absl::StatusOr<bool> DatastoreWriter::HasChunk(const ChunkDigest& digest) {
  const std::string prefix = ChunkPrefixDirName(digest);
  absl::StatusOr<std::optional<struct stat>> prefix_stat =
      StatBeneath(chunks_fd_.get(), prefix, absl::StrFormat("%s/%s", kChunkDirName, prefix));
  if (!prefix_stat.ok()) return prefix_stat.status();
  if (!prefix_stat->has_value()) return false;
  absl::StatusOr<UniqueFd> prefix_fd =
      OpenDirBeneath(chunks_fd_.get(), {&prefix, 1}, kChunkDirName);
  if (!prefix_fd.ok()) return prefix_fd.status();
  absl::StatusOr<std::optional<struct stat>> chunk_stat =
      StatBeneath(prefix_fd->get(), digest.Hex(), ChunkRelativePath(digest));
  if (!chunk_stat.ok()) return chunk_stat.status();
  if (!chunk_stat->has_value()) return false;
  const struct stat& st = **chunk_stat;
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: exists but is not a regular file", ChunkRelativePath(digest)));
  }
  return st.st_size > 0;
}

absl::StatusOr<bool> DatastoreWriter::WriteChunk(const ChunkDigest& digest, std::string_view blob) {
  absl::StatusOr<bool> present = HasChunk(digest);
  if (!present.ok()) return present.status();
  if (*present) return false;
  const std::string prefix = ChunkPrefixDirName(digest);
  absl::StatusOr<UniqueFd> prefix_fd =
      MakeDirsBeneath(chunks_fd_.get(), {&prefix, 1}, kChunkDirName, kDirMode);
  if (!prefix_fd.ok()) return prefix_fd.status();
  absl::Status written = WriteFileAtomically(prefix_fd->get(), digest.Hex(), blob, kFileMode,
                                             ChunkRelativePath(digest));
  if (!written.ok()) return written;
  return true;
}

absl::Status DatastoreWriter::WriteSnapshotFile(const SnapshotName& snapshot,
                                                std::string_view file_name,
                                                std::string_view bytes) {
  absl::Status name_ok = ValidateSnapshotFileName(file_name);
  if (!name_ok.ok()) return name_ok;
  absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<UniqueFd> dir_fd = MakeDirsBeneath(root_fd_.get(), *dir, "", kDirMode);
  if (!dir_fd.ok()) return dir_fd.status();
  return WriteFileAtomically(dir_fd->get(), file_name, bytes, kFileMode,
                             absl::StrFormat("%s/%s", absl::StrJoin(*dir, "/"), file_name));
}

absl::Status DatastoreWriter::EnsureGroupOwner(const SnapshotName& snapshot,
                                               std::string_view auth_id) {
  absl::StatusOr<std::vector<std::string>> group = GroupDirComponents(snapshot);
  if (!group.ok()) return group.status();
  absl::StatusOr<UniqueFd> group_fd = MakeDirsBeneath(root_fd_.get(), *group, "", kDirMode);
  if (!group_fd.ok()) return group_fd.status();
  const std::string shown = absl::StrFormat("%s/%s", absl::StrJoin(*group, "/"), kOwnerFileName);
  absl::StatusOr<std::optional<struct stat>> existing =
      StatBeneath(group_fd->get(), kOwnerFileName, shown);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return absl::OkStatus();
  return WriteFileAtomically(group_fd->get(), kOwnerFileName, absl::StrFormat("%s\n", auth_id),
                             kFileMode, shown);
}

absl::Status DatastoreWriter::Sync() {
  if (::syncfs(root_fd_.get()) != 0) {
    return absl::UnavailableError(
        absl::StrFormat("syncing datastore %s: %s", path_.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace chunkcache
