// FdArchiveSink: writes an archive into a file descriptor, the way a restore wants it.
//  - Regular file: truncated first, then every aligned 4 KiB block that is all zeros is skipped
//    (never written), and the file is extended to the full size at the end, so zero chunks of
//    a disk image become holes and the file is sparse. Finish syncs it to disk.
//  - Block device: every byte is written (the device's old contents are not zeros); Begin fails
//    when the device is smaller than the archive. Finish syncs it.
//  - Anything else (pipe, terminal, socket), a file opened with O_APPEND, or any descriptor when
//    `sequential` is requested (stdout): plain sequential writes of every byte.
// The descriptor is not owned and must stay open for the sink's lifetime.
//
//   absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink = FdArchiveSink::Create(fd, "disk.raw");
//   (*sink)->Begin(size); (*sink)->Append(bytes); ...; (*sink)->Finish();
//   (*sink)->bytes_skipped();   // zeros left as holes
#ifndef CHUNKCACHE_CLIENT_LIB_FD_ARCHIVE_SINK_H_
#define CHUNKCACHE_CLIENT_LIB_FD_ARCHIVE_SINK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/lib/archive_sink.h"

namespace chunkcache {

class FdArchiveSink final : public ArchiveSink {
 public:
  enum class Kind { kRegularFile, kBlockDevice, kStream };

  // Zero detection granularity: the usual file system block size, so skipped blocks are whole
  // holes.
  static constexpr size_t kSparseBlockBytes = 4096;

  // `name` is only used in error messages. FAILED_PRECONDITION when fd is not usable.
  static absl::StatusOr<std::unique_ptr<FdArchiveSink>> Create(int fd, std::string name,
                                                               bool sequential = false);

  absl::Status Begin(uint64_t total_size) override;
  absl::Status Append(std::string_view bytes) override;
  absl::Status Finish() override;

  Kind kind() const { return kind_; }
  uint64_t position() const { return position_; }            // bytes appended so far
  uint64_t bytes_written() const { return bytes_written_; }  // of which written to the fd
  uint64_t bytes_skipped() const { return bytes_skipped_; }  // of which left as holes

 private:
  FdArchiveSink(int fd, std::string name, Kind kind)
      : fd_(fd), name_(std::move(name)), kind_(kind) {}

  absl::Status WriteAt(std::string_view bytes, uint64_t offset);
  absl::Status WriteSequential(std::string_view bytes);
  absl::Status ErrnoError(const char* operation, int error) const;

  int fd_;
  std::string name_;
  Kind kind_;
  uint64_t position_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_skipped_ = 0;
};

// Whether `bytes` are all zero (true for empty).
bool IsAllZero(std::string_view bytes);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_FD_ARCHIVE_SINK_H_
