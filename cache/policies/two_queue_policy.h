// TwoQueuePolicy: 2Q (Johnson and Shasha, VLDB '94), the full version.
//
// Invariant: new keys enter A1in, a FIFO that hits do not reorder. While A1in holds more
// than its share (25% of the capacity) its oldest key is the victim and is remembered in
// A1out (a ghost FIFO of keys only, 50% of the capacity); otherwise the victim is the least
// recently used key of Am, an LRU list. A key missed while remembered in A1out enters Am.
// Shares are in bytes, rounded to whole mean charges, so equal charges give exactly the
// count-based algorithm. Pinned keys are passed over in place; when the chosen queue has no
// evictable key, the other one gives the victim.
#ifndef CHUNKCACHE_CACHE_POLICIES_TWO_QUEUE_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_TWO_QUEUE_POLICY_H_

#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class TwoQueuePolicy final : public EvictionPolicy {
 public:
  explicit TwoQueuePolicy(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  std::string_view name() const override { return "2q"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return a1in_.size() + am_.size(); }
  bool Tracks(const ChunkDigest& key) const override {
    return a1in_.contains(key) || am_.contains(key);
  }
  uint64_t tracked_bytes() const override { return a1in_.bytes() + am_.bytes(); }

  // For tests: where a key is.
  bool InA1in(const ChunkDigest& key) const { return a1in_.contains(key); }
  bool InAm(const ChunkDigest& key) const { return am_.contains(key); }
  bool InA1out(const ChunkDigest& key) const { return a1out_.contains(key); }

 private:
  using Queue = KeyedQueue<NoMeta>;

  uint64_t MeanCharge() const;
  std::optional<ChunkDigest> EvictFromA1in(absl::FunctionRef<bool(const ChunkDigest&)> evictable,
                                           uint64_t unit);
  std::optional<ChunkDigest> EvictFromAm(absl::FunctionRef<bool(const ChunkDigest&)> evictable);

  const uint64_t capacity_bytes_;
  Queue::Pool pool_;     // of the three queues, whose sizes trade off against each other
  Queue a1in_{&pool_};   // FIFO, front = newest
  Queue am_{&pool_};     // LRU, front = most recently used
  Queue a1out_{&pool_};  // ghost FIFO
  // Keys whose A1out entry OnMiss consumed, waiting for their OnInsert (bounded).
  absl::flat_hash_set<ChunkDigest> admit_to_am_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_TWO_QUEUE_POLICY_H_
