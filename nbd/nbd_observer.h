// NbdObserver: what the NBD server reports for metrics (the service turns it into
// chunkcache_nbd_* and chunkcache_read_bytes_total). Commands and results are named by
// fixed, bounded label values.
//
//   observer->OnRequest(CommandName(kCmdRead), ResultName(0), absl::Microseconds(80));
#ifndef CHUNKCACHE_NBD_NBD_OBSERVER_H_
#define CHUNKCACHE_NBD_NBD_OBSERVER_H_

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"

namespace chunkcache {

class NbdObserver {
 public:
  virtual ~NbdObserver() = default;
  // Called on the server's threads; must be thread-safe.
  virtual void OnConnectionOpened() = 0;
  virtual void OnConnectionClosed() = 0;
  virtual void OnRequest(std::string_view command, std::string_view result,
                         absl::Duration duration) = 0;
  virtual void OnReadBytes(uint64_t bytes) = 0;
};

namespace nbd {

// "read", "write", "disc", "flush", "trim", "cache", "write_zeroes", "block_status", "other".
std::string_view CommandName(uint16_t type);
// "ok", "eperm", "eio", "enomem", "einval", "eoverflow", "enotsup", "eshutdown", "other".
std::string_view ResultName(uint32_t error);

}  // namespace nbd
}  // namespace chunkcache

#endif  // CHUNKCACHE_NBD_NBD_OBSERVER_H_
