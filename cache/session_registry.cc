#include "cache/session_registry.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/internal/status_copy.h"

namespace chunkcache {

// One archive's entry: being opened (opened == false) or open. Guarded by the registry's mu_.
struct SessionRegistry::Slot {
  bool opened = false;
  absl::StatusOr<std::shared_ptr<SnapshotSession>> result = absl::UnknownError("opening");
  absl::Time last_used;
  // Set once the open session is charged: its bytes and its place in lru_.
  uint64_t charged = 0;
  std::optional<LruList::iterator> lru;
};

SessionRegistry::SessionRegistry(ChunkCache* cache, const SessionOptions& options)
    : cache_(cache), options_(options) {
  if (options_.idle_timeout != absl::InfiniteDuration() ||
      options_.readahead.pin_idle_timeout != absl::InfiniteDuration()) {
    reaper_ = std::thread([this] { ReaperLoop(); });
  }
}

SessionRegistry::~SessionRegistry() {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    changed_.notify_all();
    // Opens in progress finish first; then every session is dropped (callers may still hold
    // theirs).
    changed_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (const auto& [key, slot] : slots_) {
        if (!slot->opened) return false;
      }
      return true;
    });
    for (auto& [key, slot] : slots_) slots.push_back(slot);
    slots_.clear();
    lru_.clear();
    charged_bytes_ = 0;
  }
  if (reaper_.joinable()) reaper_.join();
}

absl::StatusOr<std::shared_ptr<SnapshotSession>> SessionRegistry::Open(
    const DatastoreRef& datastore, const SnapshotName& snapshot, std::string_view archive) {
  Key key{datastore.name, snapshot.ToString(), std::string(archive)};
  std::shared_ptr<Slot> slot;
  {
    std::unique_lock<std::mutex> lock(mu_);
    std::shared_ptr<Slot>& found = slots_[key];
    if (found != nullptr) {
      slot = found;
      changed_.wait(lock, [&slot]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return slot->opened; });
      if (!slot->result.ok()) return internal::IndependentCopy(slot->result.status());
      TouchLocked(*slot);
      return slot->result;
    }
    found = std::make_shared<Slot>();
    slot = found;
  }
  // This caller opens; others wait for it above.
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session =
      SnapshotSession::Open(cache_, datastore, snapshot, archive, options_);
  std::shared_ptr<SnapshotSession> refused;  // destroyed after the lock, releasing its pins
  std::vector<std::shared_ptr<SnapshotSession>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (session.ok()) {
      absl::Status charged = ChargeLocked(
          key, slot, (*session)->heap_bytes(),
          absl::StrCat(datastore.name, ":", std::get<1>(key), "/", std::get<2>(key)), closing);
      if (!charged.ok()) {
        refused = *std::move(session);
        session = std::move(charged);
      }
    }
    slot->result = session.ok() ? session
                                : absl::StatusOr<std::shared_ptr<SnapshotSession>>(
                                      internal::IndependentCopy(session.status()));
    slot->opened = true;
    slot->last_used = absl::Now();
    if (!session.ok()) {
      // Not remembered: the next Open tries again.
      auto it = slots_.find(key);
      if (it != slots_.end() && it->second == slot) slots_.erase(it);
    }
    changed_.notify_all();
  }
  for (const std::shared_ptr<SnapshotSession>& closed : closing) closed->ReleaseHints();
  if (refused != nullptr) refused->ReleaseHints();
  return session;
}

absl::Status SessionRegistry::ChargeLocked(const Key& key, const std::shared_ptr<Slot>& slot,
                                           uint64_t bytes, const std::string& what,
                                           std::vector<std::shared_ptr<SnapshotSession>>& closing) {
  const uint64_t budget = options_.max_open_index_bytes;
  if (bytes > budget) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": its index needs ", bytes, " bytes of memory, more than the ", budget,
                     " bytes sessions.max_open_index_bytes allows for all open "
                     "archives together; raise that limit to read it"));
  }
  // Least recently used first; a session a caller holds (a read, a stream, an NBD connection)
  // stays open. use_count() == 1: only the slot holds it, and new holders only come through
  // Open and FindOpen, which take mu_.
  for (auto it = lru_.begin(); it != lru_.end() && charged_bytes_ + bytes > budget;) {
    const Slot& candidate = *it->second;
    if (candidate.result.ok() && candidate.result->use_count() == 1) {
      closing.push_back(RemoveLocked(it++));
    } else {
      ++it;
    }
  }
  if (charged_bytes_ + bytes > budget) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": too many archives are open and in use to open another; its index needs ", bytes,
        " bytes of memory and ", charged_bytes_, " of the ", budget,
        " bytes of sessions.max_open_index_bytes are held by ", lru_.size(),
        " archives being read; retry when some reads have finished"));
  }
  charged_bytes_ += bytes;
  slot->charged = bytes;
  slot->lru = lru_.insert(lru_.end(), {key, slot});
  return absl::OkStatus();
}

void SessionRegistry::TouchLocked(Slot& slot) {
  slot.last_used = absl::Now();
  if (slot.lru.has_value()) lru_.splice(lru_.end(), lru_, *slot.lru);
}

std::shared_ptr<SnapshotSession> SessionRegistry::RemoveLocked(LruList::iterator it) {
  std::shared_ptr<Slot> slot = it->second;
  auto found = slots_.find(it->first);
  if (found != slots_.end() && found->second == slot) slots_.erase(found);
  lru_.erase(it);
  charged_bytes_ -= slot->charged;
  slot->charged = 0;
  slot->lru.reset();
  return *slot->result;
}

std::shared_ptr<SnapshotSession> SessionRegistry::FindOpen(std::string_view datastore_name,
                                                           const SnapshotName& snapshot,
                                                           std::string_view archive) {
  const Key key{std::string(datastore_name), snapshot.ToString(), std::string(archive)};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return nullptr;
  Slot& slot = *it->second;
  if (!slot.opened || !slot.result.ok()) return nullptr;
  TouchLocked(slot);
  return *slot.result;
}

size_t SessionRegistry::CloseIdle(absl::Time now) {
  std::vector<std::shared_ptr<SnapshotSession>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      const Slot& slot = *it->second;
      // use_count() == 1: only this slot holds the session, and new holders can only come
      // through Open and FindOpen, which take mu_.
      if ((now == absl::InfiniteFuture() || now - slot.last_used >= options_.idle_timeout) &&
          slot.result->use_count() == 1) {
        closing.push_back(RemoveLocked(it++));
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<SnapshotSession>& session : closing) session->ReleaseHints();
  return closing.size();
}

size_t SessionRegistry::ReleaseIdleReadaheadPins(absl::Time now) {
  // Weak references: a session counts as in use (never closed for the budget) while someone
  // holds it, so each is held only while its pins are looked at.
  std::vector<std::weak_ptr<SnapshotSession>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, slot] : slots_) {
      if (slot->opened && slot->result.ok()) open.push_back(*slot->result);
    }
  }
  size_t released = 0;
  for (const std::weak_ptr<SnapshotSession>& weak : open) {
    if (std::shared_ptr<SnapshotSession> session = weak.lock()) {
      released += session->ReleaseIdleReadaheadPins(now);
    }
  }
  return released;
}

size_t SessionRegistry::open_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

std::vector<std::shared_ptr<SnapshotSession>> SessionRegistry::OpenSessions() const {
  std::vector<std::shared_ptr<SnapshotSession>> sessions;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, slot] : slots_) {
    if (slot->opened && slot->result.ok()) sessions.push_back(*slot->result);
  }
  return sessions;
}

uint64_t SessionRegistry::open_index_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return charged_bytes_;
}

void SessionRegistry::ReaperLoop() {
  // Idle pins go at most a quarter of their timeout late.
  const absl::Duration period =
      std::clamp(std::min(options_.idle_timeout, options_.readahead.pin_idle_timeout) / 4,
                 absl::Milliseconds(10), absl::Seconds(30));
  std::unique_lock<std::mutex> lock(mu_);
  while (!changed_.wait_for(lock, absl::ToChronoMilliseconds(period),
                            [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; })) {
    lock.unlock();
    const absl::Time now = absl::Now();
    CloseIdle(now);
    ReleaseIdleReadaheadPins(now);
    lock.lock();
  }
}

}  // namespace chunkcache
