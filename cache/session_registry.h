// SessionRegistry: the open snapshot sessions, shared by every client.
//
// RPCs name an archive by value (datastore, snapshot, archive); Open returns the session
// already open for that key, or opens it. Concurrent opens of the same archive wait for one
// another: the manifest and index are read and checked once. FindOpen never waits: it returns
// the session only when it is open already, so that a server can answer calls on open archives
// at once and hand only the opens to threads that may block. A failed open is not
// remembered; the next Open tries again. Sessions nobody has used for
// SessionOptions::idle_timeout are closed by a background thread, which releases their
// hinted-set pins; a session still held by a caller (a read in progress) is never closed. The
// same thread takes the readahead pins back from sessions whose readers stalled (open or not).
//
// Open sessions hold their indexes in heap, so the registry charges each its heap_bytes() and
// keeps the total within SessionOptions::max_open_index_bytes: an open that would exceed it
// first closes the least recently used sessions no caller holds (releasing their pins), and
// fails with RESOURCE_EXHAUSTED only when the sessions in use leave no room. Opens in progress
// are charged when they finish, so the heap may briefly exceed the budget by the indexes
// being opened (as many as the threads that open).
//
//   SessionRegistry registry(cache.get(), SessionOptions{});
//   absl::StatusOr<std::shared_ptr<SnapshotSession>> session =
//       registry.Open({"store1", upstream, key}, snapshot, "drive-scsi0.img.fidx");
//
// Thread-safe. Owns its sessions and its reaper thread; destroy it before the cache.
#ifndef CHUNKCACHE_CACHE_SESSION_REGISTRY_H_
#define CHUNKCACHE_CACHE_SESSION_REGISTRY_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cache/cache_options.h"
#include "cache/chunk_cache.h"
#include "cache/snapshot_session.h"
#include "format/snapshot_name.h"

namespace chunkcache {

class SessionRegistry {
 public:
  SessionRegistry(ChunkCache* cache, const SessionOptions& options);
  ~SessionRegistry();
  SessionRegistry(const SessionRegistry&) = delete;
  SessionRegistry& operator=(const SessionRegistry&) = delete;

  // The open session for (datastore.name, snapshot, archive), opening it if needed (errors
  // as SnapshotSession::Open, or RESOURCE_EXHAUSTED when its index does not fit the budget
  // beside the sessions in use). Marks it used now.
  absl::StatusOr<std::shared_ptr<SnapshotSession>> Open(const DatastoreRef& datastore,
                                                        const SnapshotName& snapshot,
                                                        std::string_view archive);

  // The session for (datastore_name, snapshot, archive) when it is open now, else null (not
  // open, being opened, or its open failed). Marks it used now. Never blocks on an open.
  std::shared_ptr<SnapshotSession> FindOpen(std::string_view datastore_name,
                                            const SnapshotName& snapshot, std::string_view archive);

  // Closes sessions unused since `now - idle_timeout` that no caller holds; returns how many.
  // The reaper thread calls it periodically; tests may call it directly.
  size_t CloseIdle(absl::Time now);
  // Closes every session no caller holds.
  size_t CloseAll() { return CloseIdle(absl::InfiniteFuture()); }
  // Makes open sessions that nobody read for ReadaheadOptions::pin_idle_timeout give back their
  // readahead pins (SnapshotSession::ReleaseIdleReadaheadPins); returns how many pins went. The
  // reaper thread calls it periodically, with CloseIdle.
  size_t ReleaseIdleReadaheadPins(absl::Time now);
  size_t open_sessions() const;
  // The sessions open now (not those being opened), for listings such as NBD_OPT_LIST.
  std::vector<std::shared_ptr<SnapshotSession>> OpenSessions() const;
  // Heap charged to the open sessions (at most SessionOptions::max_open_index_bytes).
  uint64_t open_index_bytes() const;
  uint64_t max_open_index_bytes() const { return options_.max_open_index_bytes; }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // datastore, snapshot, archive
  struct Slot;
  using LruList = std::list<std::pair<Key, std::shared_ptr<Slot>>>;

  // Charges `slot`'s new session `bytes`, closing least recently used sessions nobody holds
  // into `closing` to make room; RESOURCE_EXHAUSTED when that is not enough.
  absl::Status ChargeLocked(const Key& key, const std::shared_ptr<Slot>& slot, uint64_t bytes,
                            const std::string& what,
                            std::vector<std::shared_ptr<SnapshotSession>>& closing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the open `slot` used now: last_used, and the back of the LRU list.
  void TouchLocked(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the open, charged `slot` (the LRU entry at `it`) and returns its session.
  std::shared_ptr<SnapshotSession> RemoveLocked(LruList::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void ReaperLoop();

  ChunkCache* const cache_;
  const SessionOptions options_;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // an open finished, or stopping_ was set
  absl::flat_hash_map<Key, std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  // The open (charged) sessions, least recently used first.
  LruList lru_ ABSL_GUARDED_BY(mu_);
  uint64_t charged_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_SESSION_REGISTRY_H_
