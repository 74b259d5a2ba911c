// IndependentCopy: a copy of an absl::Status that shares no reference-counted state with the
// original.
//
// absl::Status copies share one heap representation with an atomic reference count. The
// distribution's Abseil is not built for ThreadSanitizer, which therefore cannot see that
// count and reports a race whenever two threads drop copies of one status. Errors handed to
// waiters on other threads are copied with this instead, one per waiter.
//
//   for (ChunkCallback& waiter : waiters) waiter(IndependentCopy(status));
#ifndef CHUNKCACHE_CACHE_INTERNAL_STATUS_COPY_H_
#define CHUNKCACHE_CACHE_INTERNAL_STATUS_COPY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace chunkcache::internal {

inline absl::Status IndependentCopy(const absl::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status copy(status.code(), std::string(status.message()));
  status.ForEachPayload([&copy](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_STATUS_COPY_H_
