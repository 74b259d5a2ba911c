#include "service/reply_pin_budget.h"

#include <algorithm>
#include <utility>

namespace chunkcache {

ReplyPinBudget::ReplyPinBudget(uint64_t max_total_bytes, uint64_t max_connection_bytes)
    : max_total_bytes_(std::max<uint64_t>(max_total_bytes, 1)),
      max_connection_bytes_(
          std::clamp<uint64_t>(max_connection_bytes, 1, std::max<uint64_t>(max_total_bytes, 1))) {}

std::shared_ptr<ReplyPins> ReplyPinBudget::ForCall(const std::string& connection) {
  std::shared_ptr<ReplyConnection> shared;
  {
    absl::MutexLock lock(&mu_);
    std::weak_ptr<ReplyConnection>& entry = connections_[connection];
    shared = entry.lock();
    if (shared == nullptr) {
      shared = std::make_shared<ReplyConnection>(shared_from_this(), connection);
      entry = shared;
    }
  }
  return std::make_shared<ReplyPins>(std::move(shared));
}

bool ReplyPinBudget::TryReserve(uint64_t bytes) {
  uint64_t pinned = pinned_.load(std::memory_order_relaxed);
  while (true) {
    if (pinned > max_total_bytes_ || bytes > max_total_bytes_ - pinned) return false;
    if (pinned_.compare_exchange_weak(pinned, pinned + bytes, std::memory_order_relaxed)) {
      return true;
    }
  }
}

void ReplyPinBudget::Forget(const std::string& connection) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(connection);
  // A new call on the same peer may have replaced the entry already: keep that one.
  if (it != connections_.end() && it->second.expired()) connections_.erase(it);
}

bool ReplyConnection::MayPinLocked(const ReplyPins& call) const {
  return call.pinned_ == 0 || pinned_ < budget_->max_connection_bytes();
}

bool ReplyPins::TryPin(uint64_t bytes) {
  ReplyConnection& connection = *connection_;
  absl::MutexLock lock(&connection.mu_);
  const uint64_t share = connection.budget_->max_connection_bytes();
  if (connection.pinned_ > share || bytes > share - connection.pinned_) return false;
  if (!connection.budget_->TryReserve(bytes)) return false;
  connection.pinned_ += bytes;
  pinned_ += bytes;
  return true;
}

void ReplyPins::Unpin(uint64_t bytes) {
  ReplyConnection& connection = *connection_;
  std::vector<ReplyRoomCallback> ready;
  {
    absl::MutexLock lock(&connection.mu_);
    connection.pinned_ -= bytes;
    pinned_ -= bytes;
    connection.budget_->pinned_.fetch_sub(bytes, std::memory_order_relaxed);
    auto& waiters = connection.waiters_;
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (connection.MayPinLocked(*it->call)) {
        ready.push_back(std::move(it->on_room));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (ReplyRoomCallback& on_room : ready) on_room(ReplyRoom{});
}

void ReplyPins::CountCopied(uint64_t bytes) {
  connection_->budget_->copied_.fetch_add(bytes, std::memory_order_relaxed);
}

ReplyRoomTicket ReplyPins::WhenRoom(ReplyRoomCallback on_room) {
  ReplyRoomTicket ticket;
  ReplyConnection& connection = *connection_;
  absl::MutexLock lock(&connection.mu_);
  if (connection.MayPinLocked(*this)) {
    ticket.ready_ = true;
    return ticket;
  }
  ticket.connection_ = connection_;
  ticket.waiter_id_ = connection.next_waiter_id_++;
  connection.waiters_.push_back({ticket.waiter_id_, this, std::move(on_room)});
  return ticket;
}

uint64_t ReplyPins::pinned_bytes() const {
  absl::MutexLock lock(&connection_->mu_);
  return pinned_;
}

bool ReplyRoomTicket::Cancel() {
  if (connection_ == nullptr) return false;
  ReplyRoomCallback dropped;  // destroyed after the lock: it may own the call's last references
  absl::MutexLock lock(&connection_->mu_);
  auto& waiters = connection_->waiters_;
  for (auto it = waiters.begin(); it != waiters.end(); ++it) {
    if (it->id != waiter_id_) continue;
    dropped = std::move(it->on_room);
    waiters.erase(it);
    return true;
  }
  return false;
}

}  // namespace chunkcache
