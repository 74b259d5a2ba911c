// SievePolicy: SIEVE (Zhang et al., NSDI '24), a FIFO with one "visited" bit and a hand.
//
// Invariant: keys stay in insertion order (new keys at the front) and never move. A hit only
// sets the key's visited bit. The hand walks from the back toward the front, wrapping
// around: a visited key has its bit cleared and is passed; the first unvisited evictable key
// is the victim, and the hand stays where it was taken. Pinned keys are passed untouched
// (their bit and place are kept). Charges play no part, so byte capacity and chunk count
// behave the same.
#ifndef CHUNKCACHE_CACHE_POLICIES_SIEVE_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_SIEVE_POLICY_H_

#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"

namespace chunkcache {

class SievePolicy final : public EvictionPolicy {
 public:
  std::string_view name() const override { return "sieve"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override { AccessIfTracked(key); }
  bool AccessIfTracked(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return queue_.size(); }
  bool Tracks(const ChunkDigest& key) const override { return queue_.contains(key); }
  uint64_t tracked_bytes() const override { return queue_.bytes(); }

 private:
  struct Visited {
    bool visited = false;
  };
  using Queue = KeyedQueue<Visited>;

  Queue queue_;  // front = newest
  // The next key the hand examines; end() means "start again from the back".
  Queue::iterator hand_ = queue_.end();
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_SIEVE_POLICY_H_
