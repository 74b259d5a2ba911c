// ArchiveOpener: opens archives for the calls without blocking them — each open runs on the
// service's BlockingPool, and the calls that want an archive while it is being opened join
// that open instead of taking a worker or a queue slot of their own. The open itself goes
// through the ArchiveResolver (and so the SessionRegistry), which shares the open session
// with everyone afterwards.
//
//   auto open = std::make_shared<CancellableOperation<std::shared_ptr<SnapshotSession>,
//                                                     OpenTicket>>(on_session);
//   open->Start([&](auto callback) { return opener.Open(request, std::move(callback)); });
//
// An archive that is open already (as ArchiveResolver::FindOpen sees it) is answered at once
// through the ticket (ready, with the session) without a worker or a queue slot: a caller that
// looked before an open of it finished may come here after it did.
//
// A waiter that cancels (OpenTicket::Cancel) is dropped; the open goes on for the others and
// for the registry. A full pool refuses the first caller of an archive at once
// (RESOURCE_EXHAUSTED, the ticket is ready); a pool that shuts down answers the waiters
// UNAVAILABLE. Results reach the waiters on the worker that opened. Thread-safe; the
// resolver and the pool must outlive every open.
#ifndef CHUNKCACHE_SERVICE_ARCHIVE_OPENER_H_
#define CHUNKCACHE_SERVICE_ARCHIVE_OPENER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "cache/snapshot_session.h"
#include "service/archive_resolver.h"
#include "service/blocking_pool.h"

namespace chunkcache {

using SessionResult = absl::StatusOr<std::shared_ptr<SnapshotSession>>;
using SessionCallback = absl::AnyInvocable<void(SessionResult)>;

namespace internal {

// The opens in progress, shared by the opener and the tickets of their waiters.
struct PendingOpens {
  using Key = std::tuple<std::string, std::string, std::string>;  // datastore, snapshot, archive
  struct Open {
    uint64_t next_waiter = 0;
    std::vector<std::pair<uint64_t, SessionCallback>> waiters;
  };
  std::mutex mu;
  absl::flat_hash_map<Key, std::shared_ptr<Open>> opens ABSL_GUARDED_BY(mu);
};

}  // namespace internal

// One waiter of an open, as CancellableOperation wants its handle.
class OpenTicket {
 public:
  OpenTicket() = default;

  bool ready() const { return result_.has_value(); }
  SessionResult TakeResult() {
    SessionResult result = *std::move(result_);
    result_.reset();
    return result;
  }
  // Drops this waiter's callback if the open has not delivered to it yet.
  void Cancel();

 private:
  friend class ArchiveOpener;
  std::shared_ptr<internal::PendingOpens> pending_;
  std::shared_ptr<internal::PendingOpens::Open> open_;
  uint64_t waiter_ = 0;
  std::optional<SessionResult> result_;
};

class ArchiveOpener {
 public:
  ArchiveOpener(const ArchiveResolver* resolver, BlockingPool* pool)
      : resolver_(resolver), pool_(pool) {}

  // Joins the open of `request`'s archive in progress, or starts one on the pool; `on_done`
  // gets the session or the error (as ArchiveResolver::Open) unless the ticket is cancelled.
  // An archive that is open already, or a full pool, makes the ticket ready instead (`on_done`
  // is dropped without being called).
  OpenTicket Open(const ArchiveRequest& request, SessionCallback on_done);

 private:
  const ArchiveResolver* const resolver_;
  BlockingPool* const pool_;
  const std::shared_ptr<internal::PendingOpens> pending_ =
      std::make_shared<internal::PendingOpens>();
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_ARCHIVE_OPENER_H_
