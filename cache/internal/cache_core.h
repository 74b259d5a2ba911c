// CacheCore: the implementation behind ChunkCache (chunk_cache.h), in three files:
//   cache_core.cc   opening (fresh or persisted arena), lookups, prefetch, stats, shutdown;
//   cache_fill.cc   what a fetch worker does: upstream read, decode into the arena, publish
//                   or fail, and re-verification of persisted entries;
//   cache_space.cc  room in the arena: extents, the eviction policy, eviction.
//
// Locking (always in this order; no lock is held while a callback runs):
//   space_mu_     the arena allocator, the eviction policy, the address-ordered index of
//                 resident entries, the journal. Taken by fills and evictions, never by a hit.
//   Shard::mu     one of kShardCount: the key -> entry and key -> pending-fetch maps of a
//                 slice of the key space, and that slice's buffered hits. A hit takes only
//                 its shard's mutex: find, pin (atomic increment), buffer the access.
// The shard maps hold exactly the resident entries (by_address_'s entries): an entry enters
// and leaves both under space_mu_ and its shard mutex. So under space_mu_ the shard maps are
// the key -> resident entry index too (taking a shard mutex there keeps the lock order).
//   PendingFetch  its waiter list.
//   scheduler     its queues (a leaf: taken under a shard mutex to queue a fetch).
// Buffered hits are handed to the policy in batches under space_mu_ (when a shard's buffer
// fills and the mutex is free, and always before choosing a victim), so the policy sees every
// hit without a global lock on the hit path. The readers' streams (stream_feed.h) reach a
// policy that uses them the same way: in the same drains, never per read.
//
// Entry lifetime: see cache_entry.h. An entry leaves its shard map only under space_mu_ and
// its shard mutex, with pins == 0; its extent is freed afterwards under space_mu_.
//
// Owned by ChunkCache, which forwards every call:
//   absl::StatusOr<std::unique_ptr<CacheCore>> core = CacheCore::Open(options);
//   ChunkLookup lookup = (*core)->Lookup(request, FetchPriority::kDemand, std::move(done));
#ifndef CHUNKCACHE_CACHE_INTERNAL_CACHE_CORE_H_
#define CHUNKCACHE_CACHE_INTERNAL_CACHE_CORE_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/cache_options.h"
#include "cache/cache_stats.h"
#include "cache/chunk_cache.h"
#include "cache/eviction_policy.h"
#include "cache/internal/arena_file.h"
#include "cache/internal/byte_budget.h"
#include "cache/internal/cache_entry.h"
#include "cache/internal/dir_lock.h"
#include "cache/internal/extent_allocator.h"
#include "cache/internal/fetch_scheduler.h"
#include "cache/internal/pending_fetch.h"
#include "cache/internal/persistence_journal.h"
#include "cache/internal/room_signal.h"
#include "cache/internal/stats_counters.h"
#include "cache/internal/stream_feed.h"

namespace chunkcache::internal {

class CacheCore {
 public:
  static absl::StatusOr<std::unique_ptr<CacheCore>> Open(const ChunkCacheOptions& options);
  ~CacheCore();
  CacheCore(const CacheCore&) = delete;
  CacheCore& operator=(const CacheCore&) = delete;

  ChunkLookup Lookup(const ChunkRequest& request, FetchPriority priority, ChunkCallback on_ready);
  PrefetchOutcome Prefetch(const ChunkRequest& request);
  bool Contains(const ChunkDigest& cache_key) const;
  uint64_t CachedBytes(absl::Span<const ChunkDigest> cache_keys) const;
  CacheStats Stats() const;
  const ChunkCacheOptions& options() const { return options_; }
  // Whether the policy uses its readers' streams (EvictionPolicy::stream_knowledge()).
  bool knows_streams() const { return knowledge_ != nullptr; }
  // Reports for the policy's StreamKnowledge, handed to it at the next drain of hits.
  StreamFeed& stream_feed() { return stream_feed_; }

  // The cache-wide budgets of pins that sessions hold: hinted sets and readahead.
  ByteBudget hinted_budget;
  ByteBudget readahead_budget;
  std::atomic<uint64_t> sessions_open{0};

 private:
  static constexpr size_t kShardCount = 16;
  // Buffered hits per shard before a drain is attempted, and the most kept when space_mu_
  // stays busy (further hits are then not reported to the policy).
  static constexpr size_t kAccessDrainThreshold = 64;
  static constexpr size_t kAccessBufferLimit = 4096;

  // A hit waiting to be reported to the policy; `sequence` orders hits across shards, so the
  // policy sees them in the order they happened. `stream`: a stream read (OnStreamAccess).
  struct BufferedAccess {
    uint64_t sequence;
    ChunkDigest key;
    bool stream;
  };

  // Shard::entries holds entry pointers (8 bytes a slot, not 40 for a key and a pointer) and
  // is searched by cache key: the hash and equality read the key in the entry, which is
  // immutable and alive while the entry is in the set.
  struct EntryKeyHash {
    using is_transparent = void;
    size_t operator()(const ChunkDigest& key) const { return absl::Hash<ChunkDigest>()(key); }
    size_t operator()(const CacheEntry* entry) const { return (*this)(entry->cache_key); }
  };
  struct EntryKeyEq {
    using is_transparent = void;
    static const ChunkDigest& Key(const ChunkDigest& key) { return key; }
    static const ChunkDigest& Key(const CacheEntry* entry) { return entry->cache_key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Key(a) == Key(b);
    }
  };
  using EntrySet = absl::flat_hash_set<CacheEntry*, EntryKeyHash, EntryKeyEq>;
  // by_address_'s order: start pages, which do not change while an entry is resident.
  struct ByStartPage {
    bool operator()(const CacheEntry* a, const CacheEntry* b) const {
      return a->start_page < b->start_page;
    }
  };

  // Cache-line aligned: threads hitting different shards share no written memory. Demand
  // lookups are counted here, under the mutex the lookup holds anyway, rather than in
  // cache-wide atomics that every hit would write.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    EntrySet entries ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<ChunkDigest, std::shared_ptr<PendingFetch>> pending ABSL_GUARDED_BY(mu);
    std::vector<BufferedAccess> accesses ABSL_GUARDED_BY(mu);
    std::array<uint64_t, 4> lookups ABSL_GUARDED_BY(mu) = {};  // by LookupResult
  };

  // Orders buffered hits across shards without a shared counter: the CPU's invariant
  // time-stamp counter where there is one (strictly increasing on a thread, synchronised
  // across cores), else a cache-wide atomic.
  uint64_t NextAccessSequence();

  explicit CacheCore(const ChunkCacheOptions& options);
  absl::Status Start(DirLock lock);
  absl::Status LoadPersisted() ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  Shard& ShardFor(const ChunkDigest& key) const { return shards_[key.bytes[31] % kShardCount]; }
  bool ShouldPersist(const CacheEntry& entry) const;
  // The arena file that holds `entry`'s bytes (see private_arena_).
  ArenaFile& ArenaOf(const CacheEntry& entry) const {
    return private_arena_ != nullptr && entry.encrypted() ? *private_arena_ : *arena_;
  }
  char* EntryData(const CacheEntry& entry) const {
    return ArenaOf(entry).base() + uint64_t{entry.start_page} * kArenaPageSize;
  }
  // A handle adopting a pin already taken on `entry`.
  ChunkHandle HandleFor(CacheEntry* entry) const {
    return ChunkHandle(entry, std::string_view(EntryData(*entry), entry->size), &room_);
  }
  // The demand queue share a request is charged to: its requester on its archive.
  static FetchQueueKey QueueKeyFor(const ChunkRequest& request) {
    return FetchQueueKey{request.requester, request.source.get()};
  }
  // A demand read of a random reader: neither a read that continues a sequential stream nor
  // a stream reading its readahead. Its fetch holds readahead on its upstream back.
  static bool RandomReaderWaits(const ChunkRequest& request) {
    return !request.stream_read && !request.sequential_read;
  }
  static FetchOwner OwnerFor(const ChunkRequest& request, FetchPriority priority) {
    return FetchOwner{QueueKeyFor(request), request.source->upstream.get(),
                      priority == FetchPriority::kDemand && RandomReaderWaits(request)};
  }
  // The resident entry with `key` (nullptr if none), looked up under its shard mutex. Only a
  // caller holding space_mu_ may use the entry after that mutex is released: entries come
  // and go only under space_mu_.
  CacheEntry* FindEntry(const ChunkDigest& key) const;

  // cache_fill.cc
  void RunFetch(std::shared_ptr<PendingFetch> fetch);
  void FetchFromUpstream(const std::shared_ptr<PendingFetch>& fetch);
  bool VerifyPersisted(const CacheEntry& entry, const ChunkRequest* request) const;
  void CompleteVerified(const std::shared_ptr<PendingFetch>& fetch);
  void DropUnverified(CacheEntry* entry);
  void Publish(const std::shared_ptr<PendingFetch>& fetch, CacheEntry* entry);
  void Fail(const std::shared_ptr<PendingFetch>& fetch, const absl::Status& status);
  void BackgroundVerifyLoop(std::vector<ChunkDigest> keys);

  // cache_space.cc
  // Reserves an extent for a fill. `demand`: a reader waits for it (the policy hears OnMiss).
  absl::StatusOr<CacheEntry*> ReserveEntry(const ChunkRequest& request, uint64_t bytes,
                                           bool demand);
  // Waits (space_mu_ held by `space`, released while waiting) until `pages` can be allocated
  // or options.max_wait_for_room passes (the allocation's error).
  absl::StatusOr<uint64_t> WaitForRoomLocked(std::unique_lock<std::mutex>& space, uint64_t pages)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void ReleaseReserved(CacheEntry* entry);
  void ShrinkReserved(CacheEntry* entry, uint64_t bytes);
  absl::StatusOr<uint64_t> AllocateExtentLocked(uint64_t pages)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  // Evicts the cheapest run of neighbours that frees `pages` contiguous pages, containing
  // `anchor_page` if given; false when there is no such run.
  bool EvictWindowLocked(uint64_t pages, std::optional<uint64_t> anchor_page)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  // Removes `entry` if nothing pins it; `policy_tracked` says whether the policy still tracks
  // it (false when it was just returned by PickVictim).
  bool TryEvictLocked(CacheEntry* entry, bool policy_tracked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void AddResidentLocked(CacheEntry* entry, InsertKind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void RemoveResidentLocked(CacheEntry* entry, bool policy_tracked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void DrainAccessesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void MaybeDrainAccesses();
  void JournalInsertLocked(const CacheEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void JournalRemoveLocked(const CacheEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);
  void CompactJournalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(space_mu_);

  const ChunkCacheOptions options_;
  std::optional<DirLock> dir_lock_;
  std::unique_ptr<ArenaFile> arena_;  // set by Start, then never changed
  // With persist on and persist_encrypted off, decrypted chunks of encrypted archives never
  // touch the named arena file: their extents, allocated from the same pages as every other
  // entry, are backed by this second, unnamed file of the same size (sparse; only the pages
  // of such entries take disk blocks), which vanishes with the process. Null otherwise (the
  // arena itself is unnamed, or decrypted chunks may be persisted). Set by Start.
  std::unique_ptr<ArenaFile> private_arena_;
  mutable StatsCounters counters_;

  mutable std::array<Shard, kShardCount> shards_;
  std::atomic<uint64_t> access_sequence_{0};  // only without a time-stamp counter

  mutable std::mutex space_mu_;
  std::unique_ptr<ExtentAllocator> allocator_ ABSL_GUARDED_BY(space_mu_);
  std::unique_ptr<EvictionPolicy> policy_ ABSL_GUARDED_BY(space_mu_);
  // policy_->stream_knowledge(), set by Start and then constant (read without space_mu_ to
  // know whether streams are wanted; used only under space_mu_).
  StreamKnowledge* knowledge_ = nullptr;
  StreamFeed stream_feed_;
  // Every resident entry, in address order (for eviction windows; also the list of residents
  // for stats, journal compaction and shutdown). About 10 bytes an entry.
  absl::btree_set<CacheEntry*, ByStartPage> by_address_ ABSL_GUARDED_BY(space_mu_);
  uint64_t used_bytes_ ABSL_GUARDED_BY(space_mu_) = 0;     // decoded bytes of residents
  uint64_t filling_pages_ ABSL_GUARDED_BY(space_mu_) = 0;  // extents of fills in progress
  // Notified when room may appear: a fill gives back or publishes its extent, an entry's last
  // pin is released (by its handle, without any lock). Fills waiting for room wait on it.
  RoomSignal room_;
  std::unique_ptr<PersistenceJournal> journal_ ABSL_GUARDED_BY(space_mu_);
  std::vector<BufferedAccess> drain_batch_ ABSL_GUARDED_BY(space_mu_);  // reused by drains

  std::unique_ptr<FetchScheduler> scheduler_;  // set by Start
  std::atomic<bool> stopping_{false};
  std::thread verifier_;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_CACHE_CORE_H_
