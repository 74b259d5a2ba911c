#include "cache/internal/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chunkcache::internal {

absl::StatusOr<DirLock> DirLock::Acquire(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "lock";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open cache dir lock ", path.string(), ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("cache dir ", dir.string(), " is in use by another cache (", path.string(),
                       " is locked); give each chunkcached its own --cache-dir"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot lock ", path.string(), ": ", std::strerror(err)));
  }
  return DirLock(fd);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace chunkcache::internal
