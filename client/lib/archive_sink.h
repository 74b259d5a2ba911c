// ArchiveSink: where ChunkCacheClient::StreamArchive puts an archive's bytes. The client calls
// Begin once with the archive size, then Append with consecutive pieces in archive order
// (starting at offset 0, together exactly `total_size` bytes), then Finish once. A sink that
// returns an error stops the transfer; that error is what StreamArchive returns.
//
//   class CountingSink : public ArchiveSink {
//     absl::Status Append(std::string_view bytes) override { n += bytes.size(); return {}; }
//     absl::Status Finish() override { return absl::OkStatus(); }
//     uint64_t n = 0;
//   };
#ifndef CHUNKCACHE_CLIENT_LIB_ARCHIVE_SINK_H_
#define CHUNKCACHE_CLIENT_LIB_ARCHIVE_SINK_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace chunkcache {

class ArchiveSink {
 public:
  virtual ~ArchiveSink() = default;

  virtual absl::Status Begin(uint64_t total_size) {
    (void)total_size;
    return absl::OkStatus();
  }
  virtual absl::Status Append(std::string_view bytes) = 0;
  virtual absl::Status Finish() = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_ARCHIVE_SINK_H_
