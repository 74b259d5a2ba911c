// File operations below a directory file descriptor that never follow a symbolic link and
// never leave that directory: every path is walked one component at a time with openat() and
// O_NOFOLLOW. The datastore reader and writer use these for every file they touch, as a second
// line of defence behind name validation (datastore_paths.h): a symlink planted inside a
// datastore cannot make chunkcache read or write anything outside it.
//
//   absl::StatusOr<UniqueFd> dir = OpenDirBeneath(root.get(), {"vm", "100"}, "");
//   absl::StatusOr<UniqueFd> file = OpenFileBeneath(dir->get(), "owner", "vm/100/owner");
//   absl::StatusOr<std::string> bytes = ReadRegularFile(file->get(), 1 << 20, "vm/100/owner");
//
// `shown_path` arguments are only used in error messages: the path relative to the datastore.
// Errors: NOT_FOUND (ENOENT/ENOTDIR), PERMISSION_DENIED (a symbolic link on the way),
// FAILED_PRECONDITION (not a regular file / directory), DATA_LOSS (larger than `max_size`),
// UNAVAILABLE (any other I/O error: retryable).
#ifndef CHUNKCACHE_UPSTREAM_CONFINED_FS_H_
#define CHUNKCACHE_UPSTREAM_CONFINED_FS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "upstream/unique_fd.h"

namespace chunkcache {

// Maps an errno from an operation on `shown_path` to a status (see the header comment).
absl::Status FileErrorStatus(int err, std::string_view action, std::string_view shown_path);

// Opens the directory `components` (relative, already validated) below `dir_fd`.
// `shown_prefix` is the path of `dir_fd` relative to the datastore ("" for the root).
absl::StatusOr<UniqueFd> OpenDirBeneath(int dir_fd, absl::Span<const std::string> components,
                                        std::string_view shown_prefix);

// Like OpenDirBeneath, creating missing directories with `mode` on the way.
absl::StatusOr<UniqueFd> MakeDirsBeneath(int dir_fd, absl::Span<const std::string> components,
                                         std::string_view shown_prefix, mode_t mode = 0755);

// Opens the regular file `name` (one component) in `dir_fd` for reading.
absl::StatusOr<UniqueFd> OpenFileBeneath(int dir_fd, std::string_view name,
                                         std::string_view shown_path);

// The whole content of the open regular file `fd`, read with pread (no shared file offset,
// so one fd may be read from several threads). DATA_LOSS when it is larger than `max_size`.
absl::StatusOr<std::string> ReadRegularFile(int fd, size_t max_size, std::string_view shown_path);

// lstat of `name` in `dir_fd`; nullopt when it does not exist.
absl::StatusOr<std::optional<struct stat>> StatBeneath(int dir_fd, std::string_view name,
                                                       std::string_view shown_path);

// Names in the directory `dir_fd` (without "." and ".."), in no particular order.
absl::StatusOr<std::vector<std::string>> ListDirNames(int dir_fd, std::string_view shown_path);

// Writes `bytes` to `name` in `dir_fd` atomically: a temporary file in the same directory,
// renamed over `name` once complete, so readers see the old file or the whole new one.
absl::Status WriteFileAtomically(int dir_fd, std::string_view name, std::string_view bytes,
                                 mode_t mode, std::string_view shown_path);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_CONFINED_FS_H_
