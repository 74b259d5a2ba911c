// ExpertSwitchPolicy: follows whichever of several policies ("experts") has missed least in
// the recent past, each simulated in shadow on the same accesses at the same capacity.
//
// Invariant: every expert keeps its own simulated cache (keys and charges, no data) and sees
// every demand access; a simulated miss adds 1 to its score, and all scores decay by
// exp(-mean charge / (window_capacities * capacity)) per access, i.e. they count the misses
// of about the last `window_capacities` cache-fulls of accesses. When an expert's simulation
// evicts a key that is really cached, the key joins that expert's "doomed" FIFO. PickVictim
// takes the oldest evictable doomed key of the expert with the lowest score (then of the
// others, then the least recently used key), so once the real cache has converged on an
// expert's contents it evicts exactly what that expert evicts. Pinned keys are passed over
// and stay doomed.
//
// A missed key is simulated at the first PickVictim that makes room for it, with the mean
// charge (its real charge is known only at OnInsert; with equal charges this is exact), or at
// its OnInsert when no room had to be made.
//
//   ExpertSwitchPolicy policy(capacity, MakeExperts(capacity), /*window_capacities=*/10);
#ifndef CHUNKCACHE_CACHE_POLICIES_EXPERT_SWITCH_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_EXPERT_SWITCH_POLICY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class ExpertSwitchPolicy final : public EvictionPolicy {
 public:
  // `experts` must be non-empty; the first one leads until another misses less.
  ExpertSwitchPolicy(std::string name, uint64_t capacity_bytes,
                     std::vector<std::unique_ptr<EvictionPolicy>> experts,
                     double window_capacities);

  std::string_view name() const override { return name_; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return resident_.size(); }
  bool Tracks(const ChunkDigest& key) const override { return resident_.contains(key); }
  uint64_t tracked_bytes() const override { return resident_.bytes(); }

  // For tests and reports: the expert now followed.
  std::string_view leader() const { return experts_[Leader()].policy->name(); }

 private:
  // The simulated cache is what `policy` tracks (Tracks, tracked_bytes): no copy is kept.
  struct Expert {
    std::unique_ptr<EvictionPolicy> policy;
    double recent_misses = 0;
    KeyedQueue<NoMeta> doomed;  // really cached, evicted by the simulation; front = newest
  };

  size_t Leader() const;
  uint64_t MeanCharge() const;
  // Feeds one demand access of `key` to every simulation.
  void Simulate(const ChunkDigest& key, uint64_t charge);
  void Forget(const ChunkDigest& key);  // `key` is no longer really cached

  const std::string name_;
  const uint64_t capacity_bytes_;
  const double window_capacities_;
  // The decay of the last charge seen: charges repeat (fixed-size chunks), std::exp is costly.
  uint64_t decay_charge_ = 0;
  double decay_ = 1;
  KeyedQueue<NoMeta>::Pool pool_;  // of resident_ and the experts' doomed queues
  std::vector<Expert> experts_;
  KeyedQueue<NoMeta> resident_{&pool_};  // really cached keys, front = most recently used
  // The key of the last OnMiss, and whether PickVictim has simulated its access already.
  std::optional<ChunkDigest> pending_miss_;
  bool pending_miss_simulated_ = false;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_EXPERT_SWITCH_POLICY_H_
