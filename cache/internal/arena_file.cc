#include "cache/internal/arena_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache::internal {
namespace {

absl::Status ErrnoStatus(int err, std::string_view what) {
  std::string message = absl::StrCat(ToAbsl(what), ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == ENOMEM) {
    return absl::ResourceExhaustedError(message);
  }
  if (err == EACCES || err == EPERM || err == EROFS) return absl::PermissionDeniedError(message);
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArenaFile>> ArenaFile::MapDescriptor(int fd, uint64_t size_bytes,
                                                                    const std::string& what) {
  if (size_bytes == 0 || size_bytes % kArenaPageSize != 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        "arena size ", size_bytes, " must be a positive multiple of ", kArenaPageSize));
  }
  if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(
        err, absl::StrCat("cannot size cache arena ", what, " to ", size_bytes, " bytes"));
  }
  void* base =
      ::mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, absl::StrCat("cannot map cache arena ", what));
  }
  return std::unique_ptr<ArenaFile>(new ArenaFile(fd, static_cast<char*>(base), size_bytes));
}

absl::StatusOr<std::unique_ptr<ArenaFile>> ArenaFile::CreateUnnamed(
    const std::filesystem::path& dir, uint64_t size_bytes) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // File systems without O_TMPFILE: create a unique name and unlink it at once.
    std::string pattern = (dir / "arena.XXXXXX").string();
    fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      return ErrnoStatus(errno, absl::StrCat("cannot create the cache arena in ", dir.string(),
                                             " (is the cache dir writable?)"));
    }
    ::unlink(pattern.c_str());
  }
  return MapDescriptor(fd, size_bytes, absl::StrCat("(unnamed, in ", dir.string(), ")"));
}

absl::StatusOr<std::unique_ptr<ArenaFile>> ArenaFile::OpenNamed(const std::filesystem::path& path,
                                                                uint64_t size_bytes) {
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot open cache arena ", path.string()));
  }
  return MapDescriptor(fd, size_bytes, path.string());
}

ArenaFile::~ArenaFile() {
  ::munmap(base_, size_);
  ::close(fd_);
}

absl::Status ArenaFile::Reserve(uint64_t offset, uint64_t length) {
  if (length == 0) return absl::OkStatus();
  const int rc = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  if (rc == 0) return absl::OkStatus();
  const int err = errno;
  if (err == EOPNOTSUPP) return absl::OkStatus();  // e.g. some network file systems
  return ErrnoStatus(err, absl::StrCat("cannot reserve ", length, " bytes in the cache arena"));
}

absl::Status ArenaFile::ScrubAndRemove(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("cannot open old cache arena ", path.string()));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    // The punch zeroes the blocks where the file system supports it; the truncation frees
    // them everywhere.
    ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, st.st_size);
  }
  if (::ftruncate(fd, 0) != 0 || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, absl::StrCat("cannot clear old cache arena ", path.string()));
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("cannot remove old cache arena ", path.string()));
  }
  return absl::OkStatus();
}

void ArenaFile::Discard(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
              static_cast<off_t>(length));
}

}  // namespace chunkcache::internal
