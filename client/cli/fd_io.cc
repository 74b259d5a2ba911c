#include "client/cli/fd_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace chunkcache {

absl::StatusOr<InputFile> OpenInputFile(const std::string& path_or_dash) {
  if (path_or_dash == "-") return InputFile(UniqueFd(), STDIN_FILENO, "stdin");
  UniqueFd fd(::open(path_or_dash.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrFormat("input file %s does not exist", path_or_dash));
    }
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot open input file %s: %s", path_or_dash, std::strerror(err)));
  }
  int raw = fd.get();
  return InputFile(std::move(fd), raw, path_or_dash);
}

absl::StatusOr<size_t> ReadUpTo(int fd, char* buffer, size_t size, std::string_view name) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buffer + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrFormat("reading %s failed: %s", name, std::strerror(errno)));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

absl::Status WriteAll(int fd, std::string_view bytes, std::string_view name) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrFormat("writing %s failed: %s", name, std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace chunkcache
