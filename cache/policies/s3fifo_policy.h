// S3FifoPolicy: S3-FIFO (Yang et al., SOSP '23), in the libCacheSim form.
//
// Invariant: three FIFOs. New keys enter the small queue S (10% of the capacity, at least
// two mean-sized entries); keys whose ghost entry is still in G (90% of the capacity, keys
// only) enter the main queue M directly. A hit only bumps a 2-bit counter. Eviction takes
// from M while M holds more than its share (or S is empty), else from S: the oldest S key is
// moved to M when it was hit at least twice, else evicted and remembered in G. M is a CLOCK:
// its oldest key goes back to the front with its counter decremented while the counter is
// above zero, else it is evicted (not remembered). Queue shares are in bytes, rounded to
// whole mean charges, so equal charges give exactly the count-based algorithm. Pinned keys
// are passed over in place (counters untouched); moving a pinned key from S to M is allowed.
#ifndef CHUNKCACHE_CACHE_POLICIES_S3FIFO_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_S3FIFO_POLICY_H_

#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class S3FifoPolicy final : public EvictionPolicy {
 public:
  // `small_share_percent`: the small queue's share of the capacity (10 in the paper).
  explicit S3FifoPolicy(uint64_t capacity_bytes, uint64_t small_share_percent = 10)
      : capacity_bytes_(capacity_bytes), small_share_percent_(small_share_percent) {}

  std::string_view name() const override { return "s3fifo"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override { AccessIfTracked(key); }
  bool AccessIfTracked(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return small_.size() + main_.size(); }
  bool Tracks(const ChunkDigest& key) const override {
    return small_.contains(key) || main_.contains(key);
  }
  uint64_t tracked_bytes() const override { return small_.bytes() + main_.bytes(); }

  // For tests: where a key is.
  bool InSmall(const ChunkDigest& key) const { return small_.contains(key); }
  bool InMain(const ChunkDigest& key) const { return main_.contains(key); }
  bool InGhost(const ChunkDigest& key) const { return ghost_.contains(key); }

 private:
  struct Hits {
    uint8_t count = 0;  // saturates at 3
  };
  using Queue = KeyedQueue<Hits>;

  uint64_t MeanCharge() const;
  std::optional<ChunkDigest> EvictFromSmall(absl::FunctionRef<bool(const ChunkDigest&)> evictable,
                                            uint64_t unit);
  std::optional<ChunkDigest> EvictFromMain(absl::FunctionRef<bool(const ChunkDigest&)> evictable);

  const uint64_t capacity_bytes_;
  const uint64_t small_share_percent_;
  Queue::Pool pool_;  // of small_ and main_, whose sizes trade off against each other
  Queue small_{&pool_};
  Queue main_{&pool_};
  KeyedQueue<NoMeta> ghost_;
  // Keys whose ghost entry OnMiss consumed, waiting for their OnInsert (bounded).
  absl::flat_hash_set<ChunkDigest> admit_to_main_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_S3FIFO_POLICY_H_
