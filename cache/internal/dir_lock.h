// DirLock: an exclusive flock on `<cache dir>/lock`, held for the life of a ChunkCache, so two
// processes (or two caches in one process) never share one arena and journal.
//
//   absl::StatusOr<DirLock> lock = DirLock::Acquire(dir);  // FAILED_PRECONDITION if taken
//
// Owns the descriptor; the lock is released when the object is destroyed (or the process
// exits). Move-only.
#ifndef CHUNKCACHE_CACHE_INTERNAL_DIR_LOCK_H_
#define CHUNKCACHE_CACHE_INTERNAL_DIR_LOCK_H_

#include <filesystem>

#include "absl/status/statusor.h"

namespace chunkcache::internal {

class DirLock {
 public:
  static absl::StatusOr<DirLock> Acquire(const std::filesystem::path& dir);

  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_DIR_LOCK_H_
