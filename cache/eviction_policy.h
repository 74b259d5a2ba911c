// EvictionPolicy: decides which cached chunk leaves when the cache needs room.
//
// The ChunkCache owns entries, bytes and pins; a policy only orders keys. The cache tells the
// policy about every insert, hit and removal, and asks it for a victim among the keys that
// are currently evictable (not pinned by a handle, not in a hinted set). Policies never see
// chunk bytes. Every policy runs the conformance suite in tests/cache/.
//
//   absl::StatusOr<std::unique_ptr<EvictionPolicy>> p = MakeEvictionPolicy("s3fifo", capacity);
//
// Call order for a demand miss: OnMiss(key), then PickVictim until the bytes fit, then
// OnInsert(key). OnMiss is optional (OnInsert consults the policy's history itself when it
// was skipped); calling it keeps the victims chosen for `key` in the textbook order. Hits
// may be reported late (batched), but in the order they happened and before the PickVictim
// and OnInsert calls that follow them: recency-based policies depend on that order.
//
// Prefetched entries (InsertKind::kPrefetch) that no reader has touched are always the
// first victims, oldest first, whatever the policy: a readahead window that must survive
// until its reader arrives has to stay pinned (not evictable) until then. The one exception
// is a policy fed StreamKnowledge (stream_knowledge() not null): a prefetch that a registered
// stream will read is a chunk with a known next use, ranked as such.
//
// Stream reads (OnStreamAccess): a sequential reader (a restore) reading the chunks its own
// readahead fetched reads each of them once, front to back, however many pieces it reads it
// in. Such a read is a hit for the stats but not a use for the policy: a prefetched entry
// stays among the first victims (moved to the newest end of the prefetch FIFO, so chunks the
// stream consumed earlier go first), and repeated stream reads of it change nothing more. Any
// other hit (OnAccess) promotes it as its first read. On an entry that is no longer a
// prefetch (another reader used it) a stream read is an ordinary hit.
//
// Pinned keys (`evictable(key)` false) keep their place and history; PickVictim passes
// over them, so its cost grows with the number of pinned keys it meets, not with the
// cache size.
//
// Not thread-safe: the cache calls a policy under its own lock.
#ifndef CHUNKCACHE_CACHE_EVICTION_POLICY_H_
#define CHUNKCACHE_CACHE_EVICTION_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "cache/stream_knowledge.h"
#include "format/digest.h"

namespace chunkcache {

// How an entry came into the cache: a reader asked for it, or readahead guessed it would be
// wanted. Policies admit prefetched entries at the lowest priority, so a scan cannot flush
// entries that readers keep using.
enum class InsertKind { kDemand, kPrefetch };

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  virtual std::string_view name() const = 0;

  // `key` entered the cache with `charge` bytes. It is not already tracked.
  virtual void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) = 0;
  // A reader hit `key` (tracked).
  virtual void OnAccess(const ChunkDigest& key) = 0;
  // The sequential stream whose readahead fetched `key` (tracked) read it (see above).
  // Policies that keep no prefetches of their own treat it as OnAccess; PrefetchFifoPolicy
  // keeps a prefetched key in its FIFO.
  virtual void OnStreamAccess(const ChunkDigest& key) { OnAccess(key); }
  // OnAccess(key) if `key` is tracked; returns whether it was. Policies override it to look
  // `key` up once (ExpertSwitchPolicy feeds every access to its experts this way).
  virtual bool AccessIfTracked(const ChunkDigest& key) {
    if (!Tracks(key)) return false;
    OnAccess(key);
    return true;
  }
  // `key` left the cache without being chosen as a victim (dropped as corrupt, erased).
  virtual void OnErase(const ChunkDigest& key) = 0;
  // A reader asked for `key` and it is not cached; the cache is about to make room for it.
  // Policies with ghost history (arc, s3fifo, 2q) consume their ghost entry for `key` here.
  virtual void OnMiss(const ChunkDigest& key) { (void)key; }

  // Chooses a victim among tracked keys for which `evictable(key)` is true, stops tracking
  // it, and returns it; nullopt when no tracked key is evictable.
  virtual std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) = 0;

  // The number of tracked keys, whether `key` is one of them, and the sum of their charges:
  // the keys inserted and not erased nor returned by PickVictim since (ghost history does
  // not count). A policy run in shadow (ExpertSwitchPolicy) is asked these instead of keeping
  // a copy of its contents.
  virtual size_t tracked() const = 0;
  virtual bool Tracks(const ChunkDigest& key) const = 0;
  virtual uint64_t tracked_bytes() const = 0;

  // The hook through which the cache (or the simulator) tells the policy its readers'
  // future (cache/stream_knowledge.h); nullptr for policies that cannot use it, which is all
  // of them but `index`. Owned by the policy.
  virtual StreamKnowledge* stream_knowledge() { return nullptr; }
};

// Names accepted by MakeEvictionPolicy, the default first (bench/RESULTS.md compares them):
//   switch  LRU and S3-FIFO simulated side by side; evicts what the one with fewer recent
//           misses evicts (cache/policies/expert_switch_policy.h). The default.
//   lru     least recently used, the baseline.
//   s3fifo  S3-FIFO: small FIFO, main CLOCK, ghost FIFO.
//   sieve   SIEVE: FIFO order with a visited bit and a hand.
//   arc     ARC: T1/T2 with ghosts B1/B2 and an adaptive target.
//   2q      2Q: A1in FIFO, Am LRU, A1out ghost.
//   index   index-aware: evicts dead chunks first, then chunks with an unknown future as the
//           default policy would (those a reader used more recently than the furthest known
//           use is away stay), then the chunk whose known next use is furthest
//           (cache/policies/index_aware_policy.h). Without stream knowledge it is the default;
//           the cache feeds it its sessions' sequential readers (cache/reader_stream.h).
// Every one keeps unread prefetches in a FIFO of its own, evicted first
// (cache/policies/prefetch_fifo_policy.h); a prefetch's first read admits it as a demand
// insert would: lru at the most recently used end; s3fifo in the small queue (main if its ghost
// is remembered) with no hits counted; sieve at the head, unvisited; arc in T1 (T2 if
// remembered in B1/B2); 2q in A1in (Am if remembered in A1out); switch as a miss in both
// simulations.
std::vector<std::string_view> EvictionPolicyNames();
std::string_view DefaultEvictionPolicyName();

// `capacity_bytes` lets policies size their queues and ghost lists. INVALID_ARGUMENT naming
// the known policies for an unknown name.
absl::StatusOr<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                                   uint64_t capacity_bytes);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_EVICTION_POLICY_H_
