#include "upstream/confined_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"

namespace chunkcache {
namespace {

std::string JoinShown(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return absl::StrFormat("%s/%s", prefix, name);
}

bool IsSymlinkAt(int dir_fd, const std::string& name) {
  struct stat st;
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Opens one directory component. ELOOP/ENOTDIR are reclassified by looking at the entry, so a
// symlink is reported as such whatever errno the kernel chose for it.
absl::StatusOr<UniqueFd> OpenOneDir(int dir_fd, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  int err = errno;
  if ((err == ELOOP || err == ENOTDIR) && IsSymlinkAt(dir_fd, name)) err = ELOOP;
  if (err == ENOTDIR) {
    return absl::FailedPreconditionError(absl::StrFormat("%s: not a directory", shown));
  }
  return FileErrorStatus(err, "open", shown);
}

}  // namespace

absl::Status FileErrorStatus(int err, std::string_view action, std::string_view shown_path) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(absl::StrFormat("%s: no such file or directory", shown_path));
    case ELOOP:
      return absl::PermissionDeniedError(absl::StrFormat(
          "%s: is a symbolic link; links are never followed inside a datastore", shown_path));
    default:
      return absl::UnavailableError(
          absl::StrFormat("%s: %s failed: %s", shown_path, action, std::strerror(err)));
  }
}

absl::StatusOr<UniqueFd> OpenDirBeneath(int dir_fd, absl::Span<const std::string> components,
                                        std::string_view shown_prefix) {
  UniqueFd current(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return FileErrorStatus(errno, "dup", shown_prefix);
  std::string shown(shown_prefix);
  for (const std::string& name : components) {
    shown = JoinShown(shown, name);
    absl::StatusOr<UniqueFd> next = OpenOneDir(current.get(), name, shown);
    if (!next.ok()) return next.status();
    current = std::move(*next);
  }
  return current;
}

absl::StatusOr<UniqueFd> MakeDirsBeneath(int dir_fd, absl::Span<const std::string> components,
                                         std::string_view shown_prefix, mode_t mode) {
  UniqueFd current(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return FileErrorStatus(errno, "dup", shown_prefix);
  std::string shown(shown_prefix);
  for (const std::string& name : components) {
    shown = JoinShown(shown, name);
    // EEXIST is fine (another writer, or it was there): opening it below checks what it is.
    if (::mkdirat(current.get(), name.c_str(), mode) != 0 && errno != EEXIST) {
      return FileErrorStatus(errno, "mkdir", shown);
    }
    absl::StatusOr<UniqueFd> next = OpenOneDir(current.get(), name, shown);
    if (!next.ok()) return next.status();
    current = std::move(*next);
  }
  return current;
}

absl::StatusOr<UniqueFd> OpenFileBeneath(int dir_fd, std::string_view name,
                                         std::string_view shown_path) {
  std::string name_str(name);
  // O_NONBLOCK: a FIFO planted in a datastore must not hang the reader in open().
  UniqueFd fd(::openat(dir_fd, name_str.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return FileErrorStatus(errno, "open", shown_path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FileErrorStatus(errno, "stat", shown_path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrFormat("%s: not a regular file", shown_path));
  }
  return fd;
}

absl::StatusOr<std::string> ReadRegularFile(int fd, size_t max_size, std::string_view shown_path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return FileErrorStatus(errno, "stat", shown_path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrFormat("%s: not a regular file", shown_path));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_size) {
    return absl::DataLossError(
        absl::StrFormat("%s: file is %d bytes, more than the %d bytes such a file can have",
                        shown_path, size, max_size));
  }
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileErrorStatus(errno, "read", shown_path);
    }
    if (n == 0) {
      // Truncated between fstat and pread (a writer replacing it in place, or GC).
      return absl::UnavailableError(absl::StrFormat(
          "%s: file shrank while being read (%d of %d bytes)", shown_path, done, bytes.size()));
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

absl::StatusOr<std::optional<struct stat>> StatBeneath(int dir_fd, std::string_view name,
                                                       std::string_view shown_path) {
  std::string name_str(name);
  struct stat st;
  if (::fstatat(dir_fd, name_str.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return std::optional<struct stat>(st);
  }
  if (errno == ENOENT) return std::optional<struct stat>();
  return FileErrorStatus(errno, "stat", shown_path);
}

absl::StatusOr<std::vector<std::string>> ListDirNames(int dir_fd, std::string_view shown_path) {
  // fdopendir takes ownership of its fd and shares the offset: give it its own "." open.
  int own_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own_fd < 0) return FileErrorStatus(errno, "open", shown_path);
  DIR* dir = ::fdopendir(own_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(own_fd);
    return FileErrorStatus(err, "opendir", shown_path);
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      int err = errno;
      ::closedir(dir);
      if (err != 0) return FileErrorStatus(err, "readdir", shown_path);
      return names;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
}

absl::Status WriteFileAtomically(int dir_fd, std::string_view name, std::string_view bytes,
                                 mode_t mode, std::string_view shown_path) {
  std::string final_name(name);
  std::string temp_name;
  UniqueFd fd;
  for (int attempt = 0; attempt < 16 && !fd.valid(); ++attempt) {
    // Temporary names never look like a chunk (64 hex) or an archive, so readers skip them.
    temp_name = absl::StrFormat("%s.tmp_%08x", final_name, ::arc4random());
    fd = UniqueFd(::openat(dir_fd, temp_name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.valid() && errno != EEXIST) {
      return FileErrorStatus(errno, "create temporary file for", shown_path);
    }
  }
  if (!fd.valid()) {
    return absl::UnavailableError(
        absl::StrFormat("%s: could not pick an unused temporary file name", shown_path));
  }
  auto fail = [&](int err, std::string_view action) {
    ::unlinkat(dir_fd, temp_name.c_str(), 0);
    return FileErrorStatus(err, action, shown_path);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, "write");
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd.Release()) != 0) return fail(errno, "close");
  if (::renameat(dir_fd, temp_name.c_str(), dir_fd, final_name.c_str()) != 0) {
    return fail(errno, "rename");
  }
  return absl::OkStatus();
}

}  // namespace chunkcache
