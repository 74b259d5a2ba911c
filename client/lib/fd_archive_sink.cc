#include "client/lib/fd_archive_sink.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chunkcache {

bool IsAllZero(std::string_view bytes) {
  if (bytes.empty()) return true;
  // bytes[0] == 0 and every byte equals its successor.
  return bytes[0] == 0 && std::memcmp(bytes.data(), bytes.data() + 1, bytes.size() - 1) == 0;
}

absl::StatusOr<std::unique_ptr<FdArchiveSink>> FdArchiveSink::Create(int fd, std::string name,
                                                                     bool sequential) {
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot inspect output ", name, ": ", std::strerror(fd < 0 ? EBADF : errno)));
  }
  Kind kind = Kind::kStream;
  if (S_ISREG(info.st_mode)) kind = Kind::kRegularFile;
  if (S_ISBLK(info.st_mode)) kind = Kind::kBlockDevice;
  // pwrite on an O_APPEND file appends wherever it is asked to write.
  const int flags = ::fcntl(fd, F_GETFL);
  if (sequential || (flags >= 0 && (flags & O_APPEND) != 0)) kind = Kind::kStream;
  auto sink = std::unique_ptr<FdArchiveSink>(new FdArchiveSink(fd, std::move(name), kind));
  // Skipped blocks must read back as zeros, so nothing of an older file may remain.
  if (kind == Kind::kRegularFile && ::ftruncate(fd, 0) != 0) {
    return sink->ErrnoError("truncate", errno);
  }
  return sink;
}

absl::Status FdArchiveSink::ErrnoError(const char* operation, int error) const {
  const std::string message =
      absl::StrCat("cannot ", operation, " ", name_, ": ", std::strerror(error));
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::UnavailableError(message);
}

absl::Status FdArchiveSink::Begin(uint64_t total_size) {
  if (kind_ != Kind::kBlockDevice) return absl::OkStatus();
  uint64_t device_bytes = 0;
  if (::ioctl(fd_, BLKGETSIZE64, &device_bytes) != 0) {
    return ErrnoError("get the size of block device", errno);
  }
  if (device_bytes < total_size) {
    return absl::FailedPreconditionError(absl::StrCat("block device ", name_, " has ", device_bytes,
                                                      " bytes but the archive has ", total_size));
  }
  return absl::OkStatus();
}

absl::Status FdArchiveSink::WriteAt(std::string_view bytes, uint64_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write to", errno);
    }
    if (n == 0) return ErrnoError("write to", EIO);
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    bytes_written_ += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FdArchiveSink::WriteSequential(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write to", errno);
    }
    if (n == 0) return ErrnoError("write to", EIO);
    bytes.remove_prefix(static_cast<size_t>(n));
    bytes_written_ += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FdArchiveSink::Append(std::string_view bytes) {
  if (kind_ == Kind::kStream) {
    position_ += bytes.size();
    return WriteSequential(bytes);
  }
  if (kind_ == Kind::kBlockDevice) {
    const uint64_t offset = position_;
    position_ += bytes.size();
    return WriteAt(bytes, offset);
  }
  // Regular file: walk blocks aligned to file offsets; runs of non-zero blocks are written
  // with one pwrite, zero blocks are skipped.
  size_t run_start = 0;
  size_t run_length = 0;
  size_t cursor = 0;
  while (cursor < bytes.size()) {
    const uint64_t offset = position_ + cursor;
    const size_t to_boundary = kSparseBlockBytes - static_cast<size_t>(offset % kSparseBlockBytes);
    const size_t block = std::min(to_boundary, bytes.size() - cursor);
    if (IsAllZero(bytes.substr(cursor, block))) {
      if (run_length > 0) {
        if (absl::Status s = WriteAt(bytes.substr(run_start, run_length), position_ + run_start);
            !s.ok()) {
          return s;
        }
        run_length = 0;
      }
      bytes_skipped_ += block;
    } else {
      if (run_length == 0) run_start = cursor;
      run_length += block;
    }
    cursor += block;
  }
  if (run_length > 0) {
    if (absl::Status s = WriteAt(bytes.substr(run_start, run_length), position_ + run_start);
        !s.ok()) {
      return s;
    }
  }
  position_ += bytes.size();
  return absl::OkStatus();
}

absl::Status FdArchiveSink::Finish() {
  if (kind_ == Kind::kStream) return absl::OkStatus();
  // A trailing run of zeros was never written: extending the file makes it a hole.
  if (kind_ == Kind::kRegularFile && ::ftruncate(fd_, static_cast<off_t>(position_)) != 0) {
    return ErrnoError("set the size of", errno);
  }
  if (::fsync(fd_) != 0) return ErrnoError("sync", errno);
  return absl::OkStatus();
}

}  // namespace chunkcache
