// LruPolicy: least recently used, the baseline (the seed's live-restore cache was a 64-chunk
// LRU).
//
// Invariant: one list ordered by last use; a hit moves the key to the front, the victim is
// the evictable key nearest the back. Pinned keys stay where they are. Charges play no part
// in the order, so byte capacity and chunk count behave the same.
#ifndef CHUNKCACHE_CACHE_POLICIES_LRU_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_LRU_POLICY_H_

#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class LruPolicy final : public EvictionPolicy {
 public:
  std::string_view name() const override { return "lru"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override { AccessIfTracked(key); }
  bool AccessIfTracked(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return recency_.size(); }
  bool Tracks(const ChunkDigest& key) const override { return recency_.contains(key); }
  uint64_t tracked_bytes() const override { return recency_.bytes(); }

 private:
  KeyedQueue<NoMeta> recency_;  // front = most recently used
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_LRU_POLICY_H_
