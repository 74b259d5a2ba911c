#include "upstream/datastore_upstream.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "upstream/confined_fs.h"
#include "upstream/datastore_paths.h"

namespace chunkcache {
namespace {

constexpr std::string_view kBackupTypes[] = {"ct", "host", "vm"};

// Prefixes NOT_FOUND messages with what was missing, keeping other errors as they are.
absl::Status WithContext(const absl::Status& status, std::string_view what) {
  return absl::Status(status.code(), absl::StrFormat("%s: %s", what, status.message()));
}

bool IsDirectory(int dir_fd, const std::string& name) {
  struct stat st;
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool IsRegularFile(int dir_fd, std::string_view name) {
  std::string name_str(name);
  struct stat st;
  return ::fstatat(dir_fd, name_str.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

std::string ShownDir(const std::vector<std::string>& components) {
  return absl::StrJoin(components, "/");
}

// Collects the snapshots of one namespace directory (`ns_fd`) and recurses into `ns/<child>`.
class SnapshotWalker {
 public:
  absl::Status WalkNamespace(int ns_fd, const std::vector<std::string>& ns_components,
                             const std::vector<std::string>& dir_components) {
    absl::StatusOr<std::vector<std::string>> names = ListDirNames(ns_fd, ShownDir(dir_components));
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (std::find(std::begin(kBackupTypes), std::end(kBackupTypes), name) !=
          std::end(kBackupTypes)) {
        absl::Status status = WalkType(ns_fd, ns_components, dir_components, name);
        if (!status.ok()) return status;
      } else if (name == "ns" && ns_components.size() < kMaxNamespaceDepth) {
        absl::Status status = WalkChildNamespaces(ns_fd, ns_components, dir_components);
        if (!status.ok()) return status;
      }
    }
    return absl::OkStatus();
  }

  std::vector<SnapshotName> TakeSorted() {
    std::sort(found_.begin(), found_.end(), SnapshotNameLess);
    return std::move(found_);
  }

 private:
  // Opens a subdirectory for walking. A directory that vanished meanwhile (a prune), a symbolic
  // link or a non-directory is skipped (nullopt); other errors stop the walk.
  static absl::StatusOr<std::optional<UniqueFd>> OpenChild(
      int dir_fd, const std::string& name, const std::vector<std::string>& shown_components) {
    if (!IsDirectory(dir_fd, name)) return std::optional<UniqueFd>();
    absl::StatusOr<UniqueFd> fd = OpenDirBeneath(dir_fd, {&name, 1}, ShownDir(shown_components));
    if (fd.ok()) return std::optional<UniqueFd>(std::move(*fd));
    if (absl::IsUnavailable(fd.status())) return fd.status();
    return std::optional<UniqueFd>();
  }

  absl::Status WalkChildNamespaces(int ns_fd, const std::vector<std::string>& ns_components,
                                   std::vector<std::string> dir_components) {
    absl::StatusOr<std::optional<UniqueFd>> ns_dir = OpenChild(ns_fd, "ns", dir_components);
    if (!ns_dir.ok()) return ns_dir.status();
    if (!ns_dir->has_value()) return absl::OkStatus();
    dir_components.push_back("ns");
    absl::StatusOr<std::vector<std::string>> children =
        ListDirNames((*ns_dir)->get(), ShownDir(dir_components));
    if (!children.ok()) return children.status();
    for (const std::string& child : *children) {
      absl::StatusOr<std::vector<std::string>> parsed = ParseNamespaceName(child);
      if (!parsed.ok() || parsed->size() != 1) continue;
      absl::StatusOr<std::optional<UniqueFd>> child_fd =
          OpenChild((*ns_dir)->get(), child, dir_components);
      if (!child_fd.ok()) return child_fd.status();
      if (!child_fd->has_value()) continue;
      std::vector<std::string> child_ns = ns_components;
      child_ns.push_back(child);
      std::vector<std::string> child_dir = dir_components;
      child_dir.push_back(child);
      absl::Status status = WalkNamespace((*child_fd)->get(), child_ns, child_dir);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  absl::Status WalkType(int ns_fd, const std::vector<std::string>& ns_components,
                        std::vector<std::string> dir_components, const std::string& type) {
    absl::StatusOr<std::optional<UniqueFd>> type_dir = OpenChild(ns_fd, type, dir_components);
    if (!type_dir.ok()) return type_dir.status();
    if (!type_dir->has_value()) return absl::OkStatus();
    dir_components.push_back(type);
    absl::StatusOr<std::vector<std::string>> ids =
        ListDirNames((*type_dir)->get(), ShownDir(dir_components));
    if (!ids.ok()) return ids.status();
    const std::string ns_name = absl::StrJoin(ns_components, "/");
    for (const std::string& id : *ids) {
      absl::StatusOr<std::optional<UniqueFd>> id_dir =
          OpenChild((*type_dir)->get(), id, dir_components);
      if (!id_dir.ok()) return id_dir.status();
      if (!id_dir->has_value()) continue;
      std::vector<std::string> id_components = dir_components;
      id_components.push_back(id);
      absl::StatusOr<std::vector<std::string>> times =
          ListDirNames((*id_dir)->get(), ShownDir(id_components));
      if (!times.ok()) return times.status();
      for (const std::string& time_text : *times) {
        absl::StatusOr<int64_t> time = ParseBackupTime(time_text);
        if (!time.ok()) continue;  // "owner", "notes", temporary names
        absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(ns_name, type, id, *time);
        // The directory name must be the canonical form of its time, or reading it by name
        // later would look elsewhere.
        if (!name.ok() || name->TimeText() != time_text) continue;
        absl::StatusOr<std::optional<UniqueFd>> snapshot_dir =
            OpenChild((*id_dir)->get(), time_text, id_components);
        if (!snapshot_dir.ok()) return snapshot_dir.status();
        if (!snapshot_dir->has_value()) continue;
        if (!IsRegularFile((*snapshot_dir)->get(), kManifestFileName)) continue;
        found_.push_back(std::move(*name));
      }
    }
    return absl::OkStatus();
  }

  std::vector<SnapshotName> found_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DatastoreUpstream>> DatastoreUpstream::Open(
    const std::filesystem::path& path) {
  UniqueFd root(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrFormat("datastore %s does not exist", path.string()));
    }
    if (err == ENOTDIR) {
      return absl::FailedPreconditionError(
          absl::StrFormat("datastore %s is not a directory", path.string()));
    }
    return absl::UnavailableError(
        absl::StrFormat("cannot open datastore %s: %s", path.string(), std::strerror(err)));
  }
  const std::string chunk_dir(kChunkDirName);
  absl::StatusOr<UniqueFd> chunks = OpenDirBeneath(root.get(), {&chunk_dir, 1}, "");
  if (!chunks.ok()) {
    if (absl::IsNotFound(chunks.status())) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s is not a PBS datastore: it has no .chunks directory", path.string()));
    }
    return WithContext(chunks.status(), absl::StrFormat("datastore %s", path.string()));
  }
  return std::unique_ptr<DatastoreUpstream>(
      new DatastoreUpstream(path, std::move(root), std::move(*chunks)));
}

absl::StatusOr<std::string> DatastoreUpstream::ReadSnapshotFile(const SnapshotName& snapshot,
                                                                std::string_view file_name) {
  absl::Status name_ok = ValidateSnapshotFileName(file_name);
  if (!name_ok.ok()) return name_ok;
  absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot);
  if (!dir.ok()) return dir.status();

  const std::string shown_dir = ShownDir(*dir);
  const std::string shown_file = absl::StrFormat("%s/%s", shown_dir, file_name);
  absl::StatusOr<UniqueFd> dir_fd = OpenDirBeneath(root_fd_.get(), *dir, "");
  if (!dir_fd.ok()) {
    if (absl::IsNotFound(dir_fd.status())) {
      return absl::NotFoundError(
          absl::StrFormat("snapshot %s not found in %s", shown_dir, Describe()));
    }
    return dir_fd.status();
  }
  absl::StatusOr<UniqueFd> file = OpenFileBeneath(dir_fd->get(), file_name, shown_file);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(
          absl::StrFormat("file %s not found in %s", shown_file, Describe()));
    }
    return file.status();
  }
  const bool is_index = !file_name.ends_with(".blob");
  return ReadRegularFile(file->get(), is_index ? kMaxIndexFileSize : kMaxBlobFileSize + 64,
                         shown_file);
}

absl::StatusOr<std::string> DatastoreUpstream::ReadChunk(const ChunkDigest& digest,
                                                         const ChunkReadOptions& /*options*/) {
  const std::string shown = ChunkRelativePath(digest);
  const std::string prefix = ChunkPrefixDirName(digest);
  absl::StatusOr<UniqueFd> prefix_fd =
      OpenDirBeneath(chunks_fd_.get(), {&prefix, 1}, kChunkDirName);
  absl::StatusOr<UniqueFd> file =
      prefix_fd.ok() ? OpenFileBeneath(prefix_fd->get(), digest.Hex(), shown) : prefix_fd.status();
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(absl::StrFormat("chunk %s not found in %s", shown, Describe()));
    }
    return file.status();
  }
  absl::StatusOr<std::string> bytes = ReadRegularFile(file->get(), kMaxChunkFileSize, shown);
  if (bytes.ok() && bytes->empty()) {
    return absl::NotFoundError(
        absl::StrFormat("chunk %s in %s is a 0-byte marker: the chunk data is only in the "
                        "datastore's S3 object store",
                        shown, Describe()));
  }
  return bytes;
}

absl::StatusOr<std::vector<SnapshotName>> DatastoreUpstream::ListSnapshots() {
  SnapshotWalker walker;
  absl::Status status = walker.WalkNamespace(root_fd_.get(), {}, {});
  if (!status.ok()) return WithContext(status, absl::StrFormat("listing %s", Describe()));
  return walker.TakeSorted();
}

absl::Status DatastoreUpstream::CheckReadable() {
  // Fresh opens, not the cached descriptors: a stale network mount fails here.
  UniqueFd root(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return absl::UnavailableError(
        absl::StrFormat("%s is not readable: %s", Describe(), std::strerror(errno)));
  }
  const std::string chunk_dir(kChunkDirName);
  absl::StatusOr<UniqueFd> chunks = OpenDirBeneath(root.get(), {&chunk_dir, 1}, "");
  if (!chunks.ok()) {
    return absl::UnavailableError(
        absl::StrFormat("%s is not readable: %s", Describe(), chunks.status().message()));
  }
  struct stat st;
  if (::fstat(chunks->get(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrFormat("%s: .chunks is not readable: %s", Describe(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string DatastoreUpstream::Describe() const {
  return absl::StrFormat("datastore %s", path_.string());
}

}  // namespace chunkcache
