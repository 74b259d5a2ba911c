#include "cache/internal/cache_core.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "spdlog/spdlog.h"

namespace chunkcache::internal {
namespace {

constexpr char kArenaFileName[] = "arena.data";
constexpr char kJournalFileName[] = "arena.journal";

// `on_ready`, handed DATA_LOSS instead of a chunk whose length is not the one `request`'s
// index gives it (CheckChunkLength).
ChunkCallback WithLengthCheck(const ChunkRequest& request, ChunkCallback on_ready) {
  return [request, on_ready = std::move(on_ready)](absl::StatusOr<ChunkHandle> chunk) mutable {
    if (chunk.ok()) {
      if (absl::Status length = CheckChunkLength(request, chunk->size()); !length.ok()) {
        spdlog::warn("{}", ToStd(length.message()));
        chunk = std::move(length);  // releases the pin
      }
    }
    on_ready(std::move(chunk));
  };
}

}  // namespace

CacheCore::CacheCore(const ChunkCacheOptions& options)
    : hinted_budget(options.max_hinted_bytes != 0 ? options.max_hinted_bytes
                                                  : options.capacity_bytes / 4),
      readahead_budget(options.max_readahead_pinned_bytes != 0 ? options.max_readahead_pinned_bytes
                                                               : options.capacity_bytes / 4),
      options_(options),
      counters_(options.observer),
      stream_feed_(options.max_policy_streams) {}

absl::StatusOr<std::unique_ptr<CacheCore>> CacheCore::Open(const ChunkCacheOptions& options) {
  if (absl::Status valid = ValidateChunkCacheOptions(options); !valid.ok()) return valid;
  std::error_code ec;
  std::filesystem::create_directories(options.cache_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create cache dir ", options.cache_dir.string(), ": ", ec.message()));
  }
  absl::StatusOr<DirLock> lock = DirLock::Acquire(options.cache_dir);
  if (!lock.ok()) return lock.status();
  std::unique_ptr<CacheCore> core(new CacheCore(options));
  if (absl::Status started = core->Start(*std::move(lock)); !started.ok()) return started;
  return core;
}

absl::Status CacheCore::Start(DirLock lock) {
  dir_lock_.emplace(std::move(lock));
  const uint64_t total_pages = options_.capacity_bytes / kArenaPageSize;
  const uint64_t arena_bytes = total_pages * kArenaPageSize;
  if (total_pages > std::numeric_limits<uint32_t>::max()) {  // CacheEntry's page numbers
    return absl::InvalidArgumentError(absl::StrCat(
        "capacity_bytes ", options_.capacity_bytes,
        " is more than the largest arena (2^32 - 1 pages of ", kArenaPageSize, " bytes)"));
  }
  const std::string policy_name =
      options_.policy.empty() ? std::string(DefaultEvictionPolicyName()) : options_.policy;
  absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy =
      MakeEvictionPolicy(policy_name, arena_bytes);
  if (!policy.ok()) return policy.status();

  const std::filesystem::path arena_path = options_.cache_dir / kArenaFileName;
  const std::filesystem::path journal_path = options_.cache_dir / kJournalFileName;
  std::vector<ChunkDigest> to_verify;
  {
    std::lock_guard<std::mutex> lock(space_mu_);
    allocator_ = std::make_unique<ExtentAllocator>(total_pages);
    policy_ = *std::move(policy);
    knowledge_ = policy_->stream_knowledge();
    if (options_.persist) {
      absl::StatusOr<std::unique_ptr<ArenaFile>> arena =
          ArenaFile::OpenNamed(arena_path, arena_bytes);
      if (!arena.ok()) return arena.status();
      arena_ = *std::move(arena);
      if (!options_.persist_encrypted) {
        absl::StatusOr<std::unique_ptr<ArenaFile>> unnamed =
            ArenaFile::CreateUnnamed(options_.cache_dir, arena_bytes);
        if (!unnamed.ok()) return unnamed.status();
        private_arena_ = *std::move(unnamed);
      }
      if (absl::Status loaded = LoadPersisted(); !loaded.ok()) return loaded;
      for (const CacheEntry* entry : by_address_) {
        if (!entry->encrypted()) to_verify.push_back(entry->cache_key);
      }
    } else {
      // A persistent arena left by an earlier configuration may hold decrypted data: its
      // bytes are cleared, not only its name.
      if (absl::Status scrubbed = ArenaFile::ScrubAndRemove(arena_path); !scrubbed.ok()) {
        return absl::Status(scrubbed.code(),
                            absl::StrCat(scrubbed.message(),
                                         " (left by an earlier run with persist on; it may hold "
                                         "decrypted chunks, so the cache does not start over it)"));
      }
      std::error_code ignored;
      std::filesystem::remove(journal_path, ignored);
      absl::StatusOr<std::unique_ptr<ArenaFile>> arena =
          ArenaFile::CreateUnnamed(options_.cache_dir, arena_bytes);
      if (!arena.ok()) return arena.status();
      arena_ = *std::move(arena);
    }
  }
  scheduler_ = std::make_unique<FetchScheduler>(
      options_.max_concurrent_fetches, options_.max_queued_fetches, options_.max_queued_prefetches,
      ReadaheadYield{options_.max_readahead_fetches_under_demand,
                     options_.readahead_yield_window_fetch_times, options_.clock},
      [this](std::shared_ptr<PendingFetch> fetch) { RunFetch(std::move(fetch)); });
  if (options_.verify_persisted_in_background && !to_verify.empty()) {
    verifier_ = std::thread(
        [this, keys = std::move(to_verify)]() mutable { BackgroundVerifyLoop(std::move(keys)); });
  }
  return absl::OkStatus();
}

absl::Status CacheCore::LoadPersisted() {
  const std::filesystem::path journal_path = options_.cache_dir / kJournalFileName;
  JournalLoadResult loaded = PersistenceJournal::Load(journal_path, allocator_->total_pages());
  uint64_t dropped = loaded.dropped;
  if (loaded.torn) {
    spdlog::warn("cache journal {} ends in a torn or corrupt record; entries after it are lost",
                 journal_path.string());
  }
  std::vector<PersistedEntry> kept;
  for (const PersistedEntry& p : loaded.live) {
    const uint64_t pages = PagesFor(p.size);
    if ((p.encrypted && !options_.persist_encrypted) || p.size > kMaxChunkSize ||
        !allocator_->AllocateAt(p.start_page, pages)) {
      ++dropped;
      continue;
    }
    CacheEntry* entry =
        CacheEntry::Create(p.cache_key, p.digest, p.encrypted ? &p.key_fingerprint : nullptr);
    entry->size = static_cast<uint32_t>(p.size);
    entry->start_page = static_cast<uint32_t>(p.start_page);
    entry->pages = static_cast<uint32_t>(pages);
    entry->verified.store(false, std::memory_order_relaxed);
    Shard& shard = ShardFor(entry->cache_key);
    bool inserted;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      inserted = shard.entries.insert(entry).second;
    }
    if (!inserted) {  // the journal keeps one entry per key; this is only a safeguard
      allocator_->Free(entry->start_page, entry->pages);
      CacheEntry::Destroy(entry);
      ++dropped;
      continue;
    }
    AddResidentLocked(entry, InsertKind::kPrefetch);
    kept.push_back(p);
  }
  counters_.persisted_loaded.fetch_add(kept.size(), std::memory_order_relaxed);
  counters_.persisted_dropped.fetch_add(dropped, std::memory_order_relaxed);
  // Whatever is not referenced any more (evicted, dropped, encrypted) is zeroed on disk.
  allocator_->ForEachFreeExtent([this](uint64_t start, uint64_t pages) {
    arena_->Discard(start * kArenaPageSize, pages * kArenaPageSize);
  });
  absl::StatusOr<std::unique_ptr<PersistenceJournal>> journal =
      PersistenceJournal::Rewrite(journal_path, kept);
  if (!journal.ok()) return journal.status();
  journal_ = *std::move(journal);
  spdlog::info("chunk cache reopened {} persisted entries ({} dropped); verifying them lazily",
               kept.size(), dropped);
  return absl::OkStatus();
}

bool CacheCore::ShouldPersist(const CacheEntry& entry) const {
  return options_.persist && (!entry.encrypted() || options_.persist_encrypted);
}

CacheCore::~CacheCore() {
  stopping_.store(true, std::memory_order_release);
  if (verifier_.joinable()) verifier_.join();
  if (scheduler_ != nullptr) {
    for (std::shared_ptr<PendingFetch>& fetch : scheduler_->Stop()) {
      if (fetch->kind() == PendingFetch::Kind::kVerifyPersisted) {
        fetch->persisted()->pins.fetch_sub(1, std::memory_order_release);
      }
      Fail(fetch, absl::UnavailableError("the chunk cache is shutting down"));
    }
  }
  std::lock_guard<std::mutex> lock(space_mu_);
  bool pinned = false;
  for (const CacheEntry* entry : by_address_) {
    if (entry->pins.load(std::memory_order_acquire) != 0) pinned = true;
  }
  if (pinned) {
    // A handle outlived the cache (a caller bug). Keep the mapping and the entries alive
    // rather than let that handle read unmapped memory.
    spdlog::error("chunk cache destroyed while chunk handles are still alive; leaking the arena");
    (void)arena_.release();
    (void)private_arena_.release();
    return;
  }
  if (journal_ != nullptr) CompactJournalLocked();
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> shard_lock(shard.mu);
    shard.entries.clear();
  }
  for (CacheEntry* entry : by_address_) CacheEntry::Destroy(entry);
  by_address_.clear();
}

ChunkLookup CacheCore::Lookup(const ChunkRequest& request, FetchPriority priority,
                              ChunkCallback on_ready) {
  const bool demand = priority == FetchPriority::kDemand;
  if (request.source == nullptr || request.source->upstream == nullptr) {
    return ChunkLookup::Ready(absl::InvalidArgumentError("chunk request without an upstream"));
  }
  if (request.expected_size.has_value() && *request.expected_size > kMaxChunkSize) {
    return ChunkLookup::Ready(absl::DataLossError(absl::StrCat(
        "index range of chunk ", request.digest.ShortHex(), " is ", *request.expected_size,
        " bytes, more than the largest chunk (", kMaxChunkSize, ")")));
  }
  Shard& shard = ShardFor(request.cache_key);
  CacheEntry* hit = nullptr;
  bool drain = false;
  std::shared_ptr<PendingFetch> waiting_on;
  uint64_t waiter_id = 0;
  LookupResult result = LookupResult::kMiss;
  absl::Status refused;
  absl::Status wrong_length;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto pending = shard.pending.find(request.cache_key);
    if (pending != shard.pending.end()) {
      waiting_on = pending->second;
      // The first demand (or stream) reader of a queued prefetch promotes it, charged to this
      // reader's queue share like a new miss; the flags change only under this mutex.
      const bool promote = demand && (request.stream_read ? !waiting_on->stream_wanted()
                                                          : !waiting_on->demand_wanted());
      if (promote) {
        refused = scheduler_->Promote(waiting_on, QueueKeyFor(request), RandomReaderWaits(request));
      }
      if (refused.ok()) {
        if (promote && request.stream_read) waiting_on->MarkStreamWanted();
        if (promote && !request.stream_read) waiting_on->MarkDemandWanted();
        // The fetch decodes (or verifies) to the length of the request that started it; a
        // joiner whose index gives the chunk another length checks what it is handed.
        waiter_id = waiting_on->AddWaiter(request.expected_size.has_value()
                                              ? WithLengthCheck(request, std::move(on_ready))
                                              : std::move(on_ready),
                                          request);
        result = LookupResult::kCoalesced;
      } else {
        waiting_on.reset();
      }
    } else if (auto found = shard.entries.find(request.cache_key);
               found != shard.entries.end() &&
               !(wrong_length = CheckChunkLength(request, (*found)->size)).ok()) {
      // Cached for an index that gives it another length than this one: never served here.
    } else if (found != shard.entries.end()) {
      CacheEntry* entry = *found;
      entry->pins.fetch_add(1, std::memory_order_relaxed);
      if (entry->verified.load(std::memory_order_acquire)) {
        hit = entry;
        result = entry->hint_refs.load(std::memory_order_relaxed) > 0 ? LookupResult::kHintedHit
                                                                      : LookupResult::kHit;
        if (demand && shard.accesses.size() < kAccessBufferLimit) {
          shard.accesses.push_back({NextAccessSequence(), request.cache_key, request.stream_read});
          drain = shard.accesses.size() >= kAccessDrainThreshold;
        }
      } else {
        // Reloaded from a persisted arena: verify before serving; the pin is the verifier's.
        auto fetch = std::make_shared<PendingFetch>(request, PendingFetch::Kind::kVerifyPersisted,
                                                    priority, entry);
        refused = scheduler_->Enqueue(fetch, priority, OwnerFor(request, priority));
        if (refused.ok()) {
          shard.pending.emplace(request.cache_key, fetch);
          waiter_id = fetch->AddWaiter(std::move(on_ready), request);
          waiting_on = std::move(fetch);
          result = LookupResult::kHit;
        } else {
          if (entry->pins.fetch_sub(1, std::memory_order_seq_cst) == 1) room_.NotifyIfWaiting();
        }
      }
    } else {
      auto fetch =
          std::make_shared<PendingFetch>(request, PendingFetch::Kind::kFetch, priority, nullptr);
      if (demand && request.stream_read && knows_streams()) fetch->MarkStreamOrigin();
      refused = scheduler_->Enqueue(fetch, priority, OwnerFor(request, priority));
      if (refused.ok()) {
        shard.pending.emplace(request.cache_key, fetch);
        waiter_id = fetch->AddWaiter(std::move(on_ready), request);
        waiting_on = std::move(fetch);
      }
    }
    if (demand && refused.ok()) ++shard.lookups[static_cast<size_t>(result)];
  }
  if (!wrong_length.ok()) {
    spdlog::warn("{}", ToStd(wrong_length.message()));
    return ChunkLookup::Ready(wrong_length);
  }
  if (!refused.ok()) {
    if (demand) counters_.fetches_rejected.fetch_add(1, std::memory_order_relaxed);
    return ChunkLookup::Ready(refused);
  }
  if (demand) counters_.NotifyLookup(result);
  if (hit != nullptr) {
    // Load first: the exchange would write the entry's cache line on every hit.
    if (demand && hit->prefetched_unused.load(std::memory_order_relaxed) &&
        hit->prefetched_unused.exchange(false, std::memory_order_relaxed)) {
      counters_.CountPrefetchOutcome(/*used=*/true);
    }
    if (drain) MaybeDrainAccesses();
    return ChunkLookup::Ready(HandleFor(hit));
  }
  return ChunkLookup::Waiting(std::move(waiting_on), waiter_id);
}

PrefetchOutcome CacheCore::Prefetch(const ChunkRequest& request) {
  if (request.source == nullptr || request.source->upstream == nullptr ||
      (request.expected_size.has_value() && *request.expected_size > kMaxChunkSize)) {
    return PrefetchOutcome::kDropped;
  }
  Shard& shard = ShardFor(request.cache_key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.pending.contains(request.cache_key)) return PrefetchOutcome::kInFlight;
  if (shard.entries.contains(request.cache_key)) return PrefetchOutcome::kCached;
  auto fetch = std::make_shared<PendingFetch>(request, PendingFetch::Kind::kFetch,
                                              FetchPriority::kPrefetch, nullptr);
  if (!scheduler_
           ->Enqueue(fetch, FetchPriority::kPrefetch, OwnerFor(request, FetchPriority::kPrefetch))
           .ok()) {
    counters_.prefetches_dropped.fetch_add(1, std::memory_order_relaxed);
    return PrefetchOutcome::kDropped;
  }
  shard.pending.emplace(request.cache_key, std::move(fetch));
  return PrefetchOutcome::kRequested;
}

bool CacheCore::Contains(const ChunkDigest& cache_key) const {
  Shard& shard = ShardFor(cache_key);
  std::lock_guard<std::mutex> lock(shard.mu);
  return shard.entries.contains(cache_key);
}

uint64_t CacheCore::CachedBytes(absl::Span<const ChunkDigest> cache_keys) const {
  uint64_t bytes = 0;
  for (const ChunkDigest& key : cache_keys) {
    Shard& shard = ShardFor(key);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto found = shard.entries.find(key);
    if (found != shard.entries.end()) bytes += (*found)->size;
  }
  return bytes;
}

uint64_t CacheCore::NextAccessSequence() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return access_sequence_.fetch_add(1, std::memory_order_relaxed);
#endif
}

CacheStats CacheCore::Stats() const {
  CacheStats stats;
  counters_.FillInto(stats);
  stats.policy_streams = stream_feed_.open_streams();
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    stats.lookups.hit += shard.lookups[static_cast<size_t>(LookupResult::kHit)];
    stats.lookups.hinted_hit += shard.lookups[static_cast<size_t>(LookupResult::kHintedHit)];
    stats.lookups.miss += shard.lookups[static_cast<size_t>(LookupResult::kMiss)];
    stats.lookups.coalesced += shard.lookups[static_cast<size_t>(LookupResult::kCoalesced)];
  }
  stats.capacity_bytes = options_.capacity_bytes / kArenaPageSize * kArenaPageSize;
  stats.sessions_open = sessions_open.load(std::memory_order_relaxed);
  const FetchScheduler::Counts queue = scheduler_->counts();
  stats.fetches_running = queue.running;
  stats.fetches_running_prefetch = queue.running_prefetch;
  stats.prefetches_held_back = queue.prefetches_held_back;
  stats.fetches_queued_demand = queue.queued_demand;
  stats.fetches_queued_prefetch = queue.queued_prefetch;
  stats.fills_waiting_for_room = static_cast<uint64_t>(std::max<int64_t>(room_.waiting(), 0));
  stats.hinted_reserved_bytes = hinted_budget.reserved();
  stats.max_hinted_bytes = hinted_budget.max_bytes();
  stats.readahead_pinned_bytes = readahead_budget.reserved();
  stats.max_readahead_pinned_bytes = readahead_budget.max_bytes();
  std::lock_guard<std::mutex> lock(space_mu_);
  for (const CacheEntry* entry : by_address_) {
    if (entry->pins.load(std::memory_order_relaxed) > 0) {
      stats.pinned_bytes += entry->size;
      if (entry->hint_refs.load(std::memory_order_relaxed) > 0) stats.hinted_bytes += entry->size;
    } else {
      stats.evictable_bytes += entry->size;
    }
  }
  stats.entries = by_address_.size();
  ArenaUsage& arena = stats.arena;
  arena.capacity_bytes = allocator_->total_pages() * kArenaPageSize;
  arena.free_bytes = allocator_->free_pages() * kArenaPageSize;
  arena.reserved_bytes = arena.capacity_bytes - arena.free_bytes;
  arena.used_bytes = used_bytes_;
  arena.largest_free_bytes = allocator_->largest_free_pages() * kArenaPageSize;
  arena.free_extents = allocator_->free_extent_count();
  return stats;
}

}  // namespace chunkcache::internal
