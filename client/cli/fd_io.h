// Whole-buffer reads and writes on file descriptors (retrying short transfers and EINTR), and
// opening an input that may be "-" for stdin. For streaming archives in and out of the CLI
// without holding them in memory.
//
//   absl::StatusOr<InputFile> in = OpenInputFile("-");
//   absl::StatusOr<size_t> n = ReadUpTo(in->fd(), buffer.data(), buffer.size());  // < size: EOF
//   absl::Status written = WriteAll(STDOUT_FILENO, bytes);
#ifndef CHUNKCACHE_CLIENT_CLI_FD_IO_H_
#define CHUNKCACHE_CLIENT_CLI_FD_IO_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "upstream/unique_fd.h"

namespace chunkcache {

// An input file, or stdin for "-" (not closed).
class InputFile {
 public:
  InputFile(UniqueFd owned, int fd, std::string name)
      : owned_(std::move(owned)), fd_(fd), name_(std::move(name)) {}
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  UniqueFd owned_;
  int fd_;
  std::string name_;
};

// NOT_FOUND when the file does not exist, FAILED_PRECONDITION when it cannot be opened.
absl::StatusOr<InputFile> OpenInputFile(const std::string& path_or_dash);

// Reads until `size` bytes or end of file; returns how many were read.
absl::StatusOr<size_t> ReadUpTo(int fd, char* buffer, size_t size, std::string_view name);

// Writes all of `bytes`; UNAVAILABLE on error (EPIPE included: the reader went away).
absl::Status WriteAll(int fd, std::string_view bytes, std::string_view name);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_FD_IO_H_
