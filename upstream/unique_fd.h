// UniqueFd: sole owner of a POSIX file descriptor, closed on destruction.
//
//   UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd.valid()) { ... errno ... }
//   ::pread(fd.get(), buf, n, 0);
#ifndef CHUNKCACHE_UPSTREAM_UNIQUE_FD_H_
#define CHUNKCACHE_UPSTREAM_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace chunkcache {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  bool valid() const { return fd_ >= 0; }
  int get() const { return fd_; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }

  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_UNIQUE_FD_H_
