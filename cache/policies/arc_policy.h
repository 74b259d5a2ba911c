// ArcPolicy: ARC (Megiddo and Modha, FAST '03), with byte charges.
//
// Invariant: resident keys seen once recently are in T1, keys seen at least twice in T2 (both
// LRU lists); B1 and B2 remember the keys most recently evicted from T1 and T2 (keys only).
// p is the adaptive byte target for T1: a miss on a key remembered in B1 grows p by
// max(|B2|/|B1|, 1) times the key's charge, one in B2 shrinks it likewise, and such a key
// re-enters T2. The victim is T1's least recently used key while T1 holds more than p bytes
// (or exactly p when the missed key was in B2, or when T2 is empty), else T2's. On a miss of
// an unknown key, |T1|+|B1| and |T1|+|T2|+|B1|+|B2| are kept within c and 2c bytes by
// dropping the oldest ghosts (case IV of the paper; when T1 alone fills c, T1's oldest key
// is evicted without a ghost). With equal charges this is exactly the count-based
// ARC (libCacheSim's ARC too); unlike libCacheSim's byte mode, the adaptation step scales
// with the charge. Pinned keys are passed over in place; when the chosen list has no
// evictable key, the other one gives the victim.
#ifndef CHUNKCACHE_CACHE_POLICIES_ARC_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_ARC_POLICY_H_

#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class ArcPolicy final : public EvictionPolicy {
 public:
  explicit ArcPolicy(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  std::string_view name() const override { return "arc"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return t1_.size() + t2_.size(); }
  bool Tracks(const ChunkDigest& key) const override {
    return t1_.contains(key) || t2_.contains(key);
  }
  uint64_t tracked_bytes() const override { return t1_.bytes() + t2_.bytes(); }

  // For tests.
  double target_t1_bytes() const { return p_; }
  bool InT1(const ChunkDigest& key) const { return t1_.contains(key); }
  bool InT2(const ChunkDigest& key) const { return t2_.contains(key); }
  bool InB1(const ChunkDigest& key) const { return b1_.contains(key); }
  bool InB2(const ChunkDigest& key) const { return b2_.contains(key); }

 private:
  using Queue = KeyedQueue<NoMeta>;
  enum class LastMiss { kUnknownKey, kInB1, kInB2 };

  // Looks `key` up in B1/B2, adapts p and forgets the ghost. kUnknownKey when absent.
  LastMiss ConsumeGhost(const ChunkDigest& key);
  // The paper's REPLACE: moves a victim from T1 or T2 to its ghost list.
  std::optional<ChunkDigest> Replace(absl::FunctionRef<bool(const ChunkDigest&)> evictable,
                                     bool missed_key_in_b2);
  static std::optional<Queue::Entry> TakeOldest(
      Queue& queue, absl::FunctionRef<bool(const ChunkDigest&)> evictable);

  const uint64_t capacity_bytes_;
  double p_ = 0;      // bytes; fractional, as in libCacheSim
  Queue::Pool pool_;  // of the four lists, whose sizes trade off against each other
  Queue t1_{&pool_}, t2_{&pool_}, b1_{&pool_}, b2_{&pool_};  // front = most recent
  LastMiss last_miss_ = LastMiss::kUnknownKey;
  // Keys whose ghost OnMiss consumed, waiting for their OnInsert (bounded).
  absl::flat_hash_set<ChunkDigest> admit_to_t2_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_ARC_POLICY_H_
