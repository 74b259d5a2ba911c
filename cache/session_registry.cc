#include "cache/session_registry.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "cache/internal/status_copy.h"

namespace chunkcache {

// One archive's entry: being opened (opened == false) or open. Guarded by the registry's mu_.
struct SessionRegistry::Slot {
  bool opened = false;
  absl::StatusOr<std::shared_ptr<SnapshotSession>> result = absl::UnknownError("opening");
  absl::Time last_used;
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
      slot->last_used = absl::Now();
      if (!slot->result.ok()) return internal::IndependentCopy(slot->result.status());
      return slot->result;
    }
    found = std::make_shared<Slot>();
    slot = found;
  }
  // This caller opens; others wait for it above.
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session =
      SnapshotSession::Open(cache_, datastore, snapshot, archive, options_);
  std::lock_guard<std::mutex> lock(mu_);
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
  return session;
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
  slot.last_used = absl::Now();
  return *slot.result;
}

size_t SessionRegistry::CloseIdle(absl::Time now) {
  std::vector<std::shared_ptr<SnapshotSession>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& slot = *it->second;
      // use_count() == 1: only this slot holds the session, and new holders can only come
      // through Open, which takes mu_.
      if (slot.opened && slot.result.ok() &&
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

size_t SessionRegistry::ReleaseIdleReadaheadPins(absl::Time now) {
  std::vector<std::shared_ptr<SnapshotSession>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, slot] : slots_) {
      if (slot->opened && slot->result.ok()) open.push_back(*slot->result);
    }
  }
  size_t released = 0;
  for (const std::shared_ptr<SnapshotSession>& session : open) {
    released += session->ReleaseIdleReadaheadPins(now);
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
