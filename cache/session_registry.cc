#include "cache/session_registry.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"

namespace chunkcache {

struct SessionRegistry::Slot {
  absl::Notification opened;  // set once the first opener is done, success or not
  absl::StatusOr<std::shared_ptr<SnapshotSession>> result = absl::UnknownError("opening");
  absl::Time last_used;  // guarded by the registry's mu_
};

SessionRegistry::SessionRegistry(ChunkCache* cache, const SessionOptions& options)
    : cache_(cache), options_(options) {
  if (options_.idle_timeout != absl::InfiniteDuration()) reaper_ = std::thread([this] {
    ReaperLoop();
  });
}

SessionRegistry::~SessionRegistry() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reaper_.joinable()) reaper_.join();
  // Wait for opens in progress, then drop every session (callers may still hold theirs).
  std::vector<std::shared_ptr<Slot>> slots;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, slot] : slots_) slots.push_back(slot);
    slots_.clear();
  }
  for (const std::shared_ptr<Slot>& slot : slots) slot->opened.WaitForNotification();
}

absl::StatusOr<std::shared_ptr<SnapshotSession>> SessionRegistry::Open(
    const DatastoreRef& datastore, const SnapshotName& snapshot, std::string_view archive) {
  Key key{datastore.name, snapshot.ToString(), std::string(archive)};
  std::shared_ptr<Slot> slot;
  bool opener = false;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Slot>& found = slots_[key];
    if (found == nullptr) {
      found = std::make_shared<Slot>();
      opener = true;
    } else if (found->opened.HasBeenNotified()) {
      found->last_used = absl::Now();
      return found->result;
    }
    slot = found;
  }
  if (opener) {
    absl::StatusOr<std::shared_ptr<SnapshotSession>> session =
        SnapshotSession::Open(cache_, datastore, snapshot, archive, options_);
    {
      absl::MutexLock lock(&mu_);
      slot->result = session;
      slot->last_used = absl::Now();
      if (!session.ok()) {
        auto it = slots_.find(key);
        if (it != slots_.end() && it->second == slot) slots_.erase(it);
      }
    }
    slot->opened.Notify();
    return session;
  }
  slot->opened.WaitForNotification();
  absl::MutexLock lock(&mu_);
  slot->last_used = absl::Now();
  return slot->result;
}

size_t SessionRegistry::CloseIdle(absl::Time now) {
  std::vector<std::shared_ptr<SnapshotSession>> closing;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& slot = *it->second;
      // use_count() == 1: only this slot holds the session, and new holders can only come
      // through Open, which takes mu_.
      if (slot.opened.HasBeenNotified() && slot.result.ok() &&
          (now == absl::InfiniteFuture() || now - slot.last_used >= options_.idle_timeout) &&
          slot.result->use_count() == 1) {
        closing.push_back(*slot.result);
        slots_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<SnapshotSession>& session : closing) session->ReleaseHints();
  return closing.size();
}

size_t SessionRegistry::open_sessions() const {
  absl::MutexLock lock(&mu_);
  return slots_.size();
}

void SessionRegistry::ReaperLoop() {
  const absl::Duration period =
      std::clamp(options_.idle_timeout / 4, absl::Milliseconds(10), absl::Seconds(30));
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(this, &SessionRegistry::Stopping), period)) {
    mu_.Unlock();
    CloseIdle(absl::Now());
    mu_.Lock();
  }
}

}  // namespace chunkcache
