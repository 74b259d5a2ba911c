#include "cache/policies/lru_policy.h"

namespace chunkcache {

void LruPolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (recency_.contains(key)) return OnAccess(key);
  recency_.PushFront(key, charge);
}

bool LruPolicy::AccessIfTracked(const ChunkDigest& key) {
  auto it = recency_.IteratorOf(key);
  if (it == recency_.end()) return false;
  recency_.MoveToFront(it);
  return true;
}

void LruPolicy::OnErase(const ChunkDigest& key) { recency_.Erase(key); }

std::optional<ChunkDigest> LruPolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  for (auto it = recency_.Oldest(); it != recency_.end(); it = recency_.Newer(it)) {
    if (evictable(it->key)) return recency_.Erase(it).key;
  }
  return std::nullopt;
}

}  // namespace chunkcache
