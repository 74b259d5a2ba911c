#include "cache/internal/pending_fetch.h"

namespace chunkcache::internal {

ChunkRequest PendingFetch::request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return request_;
}

uint64_t PendingFetch::AddWaiter(ChunkCallback callback, const ChunkRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (request_.source == nullptr) request_ = request;
  const uint64_t id = next_waiter_id_++;
  waiters_.emplace_back(id, std::move(callback));
  return id;
}

bool PendingFetch::RemoveWaiter(uint64_t waiter_id) {
  ChunkCallback removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed_) return false;
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->first == waiter_id) {
        removed = std::move(it->second);
        waiters_.erase(it);
        return true;
      }
    }
  }
  return false;
}

std::vector<ChunkCallback> PendingFetch::TakeWaiters() {
  std::lock_guard<std::mutex> lock(mu_);
  completed_ = true;
  std::vector<ChunkCallback> callbacks;
  callbacks.reserve(waiters_.size());
  for (auto& [id, callback] : waiters_) callbacks.push_back(std::move(callback));
  waiters_.clear();
  return callbacks;
}

size_t PendingFetch::waiter_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace chunkcache::internal
