// PrefetchFifoPolicy: gives any policy the same treatment of prefetched entries.
//
// Invariant: an entry inserted as InsertKind::kPrefetch waits in a FIFO outside the wrapped
// policy until a reader uses it; the wrapped policy never sees it, so a scan of prefetched
// chunks cannot reorder, promote or flush the policy's entries nor pollute its ghost lists.
// PickVictim takes the oldest evictable entry of the FIFO first and asks the wrapped policy
// only when there is none. The first OnAccess hands the entry to the wrapped policy as a
// demand insert (from then on it is an ordinary entry; ghost history applies). A stream read
// (OnStreamAccess: the restore that prefetched it consumes it) is not a use: the entry moves
// to the FIFO's newest end and stays there, read-once restore data being the next victims
// after the unread and older consumed prefetches. A prefetch that is evicted or erased from
// the FIFO leaves no trace.
//
//   auto policy = std::make_unique<PrefetchFifoPolicy>(std::make_unique<LruPolicy>());
#ifndef CHUNKCACHE_CACHE_POLICIES_PREFETCH_FIFO_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_PREFETCH_FIFO_POLICY_H_

#include <memory>

#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class PrefetchFifoPolicy final : public EvictionPolicy {
 public:
  explicit PrefetchFifoPolicy(std::unique_ptr<EvictionPolicy> demand_policy)
      : demand_policy_(std::move(demand_policy)) {}

  std::string_view name() const override { return demand_policy_->name(); }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override;
  void OnStreamAccess(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override { demand_policy_->OnMiss(key); }
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return prefetched_.size() + demand_policy_->tracked(); }
  bool Tracks(const ChunkDigest& key) const override {
    return prefetched_.contains(key) || demand_policy_->Tracks(key);
  }
  uint64_t tracked_bytes() const override {
    return prefetched_.bytes() + demand_policy_->tracked_bytes();
  }

  // Prefetches not used yet (unread, or read only by their stream), in the FIFO.
  size_t unread_prefetches() const { return prefetched_.size(); }
  const EvictionPolicy& demand_policy() const { return *demand_policy_; }

 private:
  std::unique_ptr<EvictionPolicy> demand_policy_;
  KeyedQueue<NoMeta> prefetched_;  // front = newest prefetch or stream read
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_PREFETCH_FIFO_POLICY_H_
