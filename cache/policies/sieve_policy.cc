#include "cache/policies/sieve_policy.h"

namespace chunkcache {

void SievePolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (queue_.contains(key)) return OnAccess(key);
  queue_.PushFront(key, charge);
}

bool SievePolicy::AccessIfTracked(const ChunkDigest& key) {
  Queue::Entry* entry = queue_.Find(key);
  if (entry == nullptr) return false;
  entry->meta.visited = true;
  return true;
}

void SievePolicy::OnErase(const ChunkDigest& key) {
  auto it = queue_.IteratorOf(key);
  if (it == queue_.end()) return;
  if (it == hand_) hand_ = queue_.Newer(it);
  queue_.Erase(it);
}

std::optional<ChunkDigest> SievePolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  if (queue_.empty()) return std::nullopt;
  // One lap clears every evictable visited bit; the second finds a victim if there is one.
  size_t steps_left = 2 * queue_.size() + 1;
  Queue::iterator it = hand_ == queue_.end() ? queue_.Oldest() : hand_;
  while (steps_left-- > 0) {
    Queue::iterator next = queue_.Newer(it);
    if (next == queue_.end()) next = queue_.Oldest();  // wrap around
    if (evictable(it->key)) {
      if (!it->meta.visited) {
        hand_ = queue_.Newer(it);
        return queue_.Erase(it).key;
      }
      it->meta.visited = false;
    }
    it = next;
  }
  return std::nullopt;
}

}  // namespace chunkcache
