#include "cache/policies/prefetch_fifo_policy.h"

namespace chunkcache {

void PrefetchFifoPolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) {
  if (prefetched_.contains(key)) {
    // Already waiting as a prefetch; a demand insert of the same key counts as its first read.
    if (kind == InsertKind::kDemand) OnAccess(key);
    return;
  }
  if (kind == InsertKind::kPrefetch) {
    prefetched_.PushFront(key, charge);
    return;
  }
  demand_policy_->OnInsert(key, charge, InsertKind::kDemand);
}

void PrefetchFifoPolicy::OnAccess(const ChunkDigest& key) {
  if (std::optional<KeyedQueue<NoMeta>::Entry> entry = prefetched_.Erase(key)) {
    demand_policy_->OnInsert(entry->key, entry->charge, InsertKind::kDemand);
    return;
  }
  demand_policy_->OnAccess(key);
}

void PrefetchFifoPolicy::OnStreamAccess(const ChunkDigest& key) {
  if (auto it = prefetched_.IteratorOf(key); it != prefetched_.end()) {
    prefetched_.MoveToFront(it);
    return;
  }
  demand_policy_->OnStreamAccess(key);
}

void PrefetchFifoPolicy::OnErase(const ChunkDigest& key) {
  if (!prefetched_.Erase(key)) demand_policy_->OnErase(key);
}

std::optional<ChunkDigest> PrefetchFifoPolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  for (auto it = prefetched_.Oldest(); it != prefetched_.end(); it = prefetched_.Newer(it)) {
    if (evictable(it->key)) return prefetched_.Erase(it).key;
  }
  return demand_policy_->PickVictim(evictable);
}

}  // namespace chunkcache
