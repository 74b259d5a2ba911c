// The space side of CacheCore: extents in the arena, the eviction policy and eviction.
//
// Making room for a fill of P pages, under space_mu_:
//  1. Take a free extent of P pages if there is one (best fit).
//  2. Evict the policy's victims (never a pinned or hinted entry) until P pages fit, or until
//     the victims add up to P pages and at least P pages are free.
//  3. Then, if no free run is long enough (external fragmentation), evict the cheapest window
//     of neighbouring evictable entries that frees P contiguous pages around the hole the
//     policy's last victim left (extent_window.h), rather than ever more policy victims
//     scattered over the arena; failing that, the cheapest window anywhere.
//     Letting the policy choose P pages first matters: with dynamic-index chunk sizes
//     (bench/cache_bench.cc, BM_DynamicChunkChurnFragmentation) going to a window as soon as
//     P pages are free made most evictions neighbours rather than policy choices and raised
//     the miss ratio by 0.01-0.09 over three seeds; the price is about 8 % of the arena left
//     free (92 % used instead of 98 %).
//  4. If nothing more can be evicted, the fill waits up to options.max_wait_for_room for other
//     fills to finish and reads to release their pins, then fails with RESOURCE_EXHAUSTED: the
//     budget is never exceeded. It waits on room_ (room_signal.h) and looks again only when
//     room may have appeared (a last pin released, an extent given back or published), never
//     on a timer: a look is a scan of the entries under space_mu_.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cache/internal/cache_core.h"
#include "cache/internal/extent_window.h"
#include "format/string_view_compat.h"
#include "spdlog/spdlog.h"

namespace chunkcache::internal {
namespace {

PersistedEntry ToPersisted(const CacheEntry& entry) {
  return PersistedEntry{entry.cache_key,   entry.digest(),
                        entry.start_page,  entry.size,
                        entry.encrypted(), entry.encrypted() ? entry.key_fingerprint() : RawKey{}};
}

}  // namespace

absl::StatusOr<CacheEntry*> CacheCore::ReserveEntry(const ChunkRequest& request, uint64_t bytes,
                                                    bool demand) {
  const uint64_t pages = PagesFor(bytes);
  uint64_t start;
  {
    std::unique_lock<std::mutex> space(space_mu_);
    if (demand) policy_->OnMiss(request.cache_key);
    if (pages > allocator_->total_pages()) {
      counters_.fills_without_room.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(absl::StrCat(
          "a chunk of ", pages * kArenaPageSize, " bytes does not fit in a cache of ",
          allocator_->total_pages() * kArenaPageSize, " bytes; raise the cache capacity"));
    }
    absl::StatusOr<uint64_t> allocated = AllocateExtentLocked(pages);
    if (!allocated.ok()) allocated = WaitForRoomLocked(space, pages);
    if (!allocated.ok()) {
      counters_.fills_without_room.fetch_add(1, std::memory_order_relaxed);
      return allocated.status();
    }
    start = *allocated;
    filling_pages_ += pages;
  }
  const CryptConfig* key = request.source->chunk_key();
  CacheEntry* entry = CacheEntry::Create(request.cache_key, request.digest,
                                         key != nullptr ? &key->fingerprint() : nullptr);
  entry->start_page = static_cast<uint32_t>(start);
  entry->pages = static_cast<uint32_t>(pages);
  if (absl::Status disk = ArenaOf(*entry).Reserve(start * kArenaPageSize, pages * kArenaPageSize);
      !disk.ok()) {
    ReleaseReserved(entry);
    return disk;
  }
  return entry;
}

absl::StatusOr<uint64_t> CacheCore::WaitForRoomLocked(std::unique_lock<std::mutex>& space,
                                                      uint64_t pages) {
  const absl::Time give_up = absl::Now() + options_.max_wait_for_room;
  RoomSignal::Waiter waiting(room_);
  while (true) {
    // Read before looking: room that appears after the look moves the generation on.
    const uint64_t seen = room_.generation();
    absl::StatusOr<uint64_t> allocated = AllocateExtentLocked(pages);
    if (allocated.ok()) return allocated;
    space.unlock();
    const bool changed = room_.WaitForChange(seen, give_up);
    space.lock();
    if (!changed) return AllocateExtentLocked(pages);  // a last look at the deadline
    counters_.fill_room_rechecks.fetch_add(1, std::memory_order_relaxed);
  }
}

void CacheCore::ReleaseReserved(CacheEntry* entry) {
  std::lock_guard<std::mutex> space(space_mu_);
  filling_pages_ -= entry->pages;
  allocator_->Free(entry->start_page, entry->pages);
  CacheEntry::Destroy(entry);
  room_.Notify();
}

void CacheCore::ShrinkReserved(CacheEntry* entry, uint64_t bytes) {
  const uint64_t pages = PagesFor(bytes);
  if (pages >= entry->pages) return;
  std::lock_guard<std::mutex> space(space_mu_);
  allocator_->Free(entry->start_page + pages, entry->pages - pages);
  filling_pages_ -= entry->pages - pages;
  entry->pages = static_cast<uint32_t>(pages);
  room_.Notify();
}

CacheEntry* CacheCore::FindEntry(const ChunkDigest& key) const {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(key);
  return it != shard.entries.end() ? *it : nullptr;
}

absl::StatusOr<uint64_t> CacheCore::AllocateExtentLocked(uint64_t pages) {
  auto evictable = [this](const ChunkDigest& key) {
    const CacheEntry* entry = FindEntry(key);
    return entry != nullptr && entry->pins.load(std::memory_order_relaxed) == 0;
  };
  bool drained = false;
  std::optional<uint64_t> last_victim_page;
  uint64_t policy_victim_pages = 0;
  // Every round allocates, evicts something or re-tracks a victim that was pinned meanwhile.
  const size_t max_rounds = 2 * by_address_.size() + 16;
  for (size_t round = 0; round < max_rounds; ++round) {
    if (std::optional<uint64_t> start = allocator_->Allocate(pages)) return *start;
    if (!drained) {
      DrainAccessesLocked();  // the policy decides on every hit so far
      drained = true;
    }
    if (allocator_->free_pages() >= pages && policy_victim_pages >= pages &&
        ((last_victim_page.has_value() && EvictWindowLocked(pages, last_victim_page)) ||
         EvictWindowLocked(pages, std::nullopt))) {
      continue;
    }
    std::optional<ChunkDigest> victim = policy_->PickVictim(evictable);
    if (!victim.has_value()) break;
    CacheEntry* entry = FindEntry(*victim);
    if (entry == nullptr) continue;  // cannot happen: the policy tracks residents only
    const uint64_t victim_page = entry->start_page;
    const uint64_t victim_pages = entry->pages;
    if (TryEvictLocked(entry, /*policy_tracked=*/false)) {
      last_victim_page = victim_page;
      policy_victim_pages += victim_pages;
    } else {
      policy_->OnInsert(entry->cache_key, entry->reserved_bytes(), InsertKind::kDemand);
    }
  }
  uint64_t pinned = 0;
  for (const CacheEntry* entry : by_address_) {
    if (entry->pins.load(std::memory_order_relaxed) > 0) pinned += entry->reserved_bytes();
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "no room in the chunk cache for ", pages * kArenaPageSize, " bytes: ", pinned, " of ",
      allocator_->total_pages() * kArenaPageSize, " bytes are pinned by reads in progress and ",
      "hinted sets, ", filling_pages_ * kArenaPageSize,
      " by fills in progress; retry later or raise the cache capacity"));
}

bool CacheCore::EvictWindowLocked(uint64_t pages, std::optional<uint64_t> anchor_page) {
  std::vector<ArenaSegment> segments;
  segments.reserve(2 * by_address_.size() + 2);
  uint64_t cursor = 0;
  auto add_until = [&](uint64_t start) {
    if (start > cursor) {  // a gap: an extent held by a fill in progress
      segments.push_back({cursor, start - cursor, ArenaSegment::Kind::kBlocked, 0, nullptr});
    }
  };
  auto entry_it = by_address_.begin();
  auto add_entries_before = [&](uint64_t limit) {
    for (; entry_it != by_address_.end() && (*entry_it)->start_page < limit; ++entry_it) {
      CacheEntry* entry = *entry_it;
      add_until(entry->start_page);
      const bool pinned = entry->pins.load(std::memory_order_relaxed) > 0;
      segments.push_back({entry->start_page, entry->pages,
                          pinned ? ArenaSegment::Kind::kBlocked : ArenaSegment::Kind::kEvictable,
                          entry->size, entry});
      cursor = uint64_t{entry->start_page} + entry->pages;
    }
  };
  allocator_->ForEachFreeExtent([&](uint64_t start, uint64_t length) {
    add_entries_before(start);
    add_until(start);
    segments.push_back({start, length, ArenaSegment::Kind::kFree, 0, nullptr});
    cursor = start + length;
  });
  add_entries_before(allocator_->total_pages());
  add_until(allocator_->total_pages());

  std::optional<EvictionWindow> window = FindEvictionWindow(segments, pages, anchor_page);
  if (!window.has_value()) return false;
  for (size_t i = window->first; i <= window->last; ++i) {
    if (segments[i].kind != ArenaSegment::Kind::kEvictable) continue;
    auto* entry = static_cast<CacheEntry*>(const_cast<void*>(segments[i].owner));
    if (TryEvictLocked(entry, /*policy_tracked=*/true)) {
      counters_.fragmentation_evictions.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return true;
}

bool CacheCore::TryEvictLocked(CacheEntry* entry, bool policy_tracked) {
  {
    Shard& shard = ShardFor(entry->cache_key);
    std::lock_guard<std::mutex> lock(shard.mu);
    // Pins are only taken under this mutex (or copied from a live handle), so a zero seen
    // here stays zero once the entry is out of the map.
    if (entry->pins.load(std::memory_order_acquire) != 0) return false;
    shard.entries.erase(entry->cache_key);
  }
  if (entry->prefetched_unused.load(std::memory_order_relaxed)) {
    counters_.CountPrefetchOutcome(/*used=*/false);
  }
  counters_.CountEviction(entry->size);
  RemoveResidentLocked(entry, policy_tracked);
  CacheEntry::Destroy(entry);
  return true;
}

void CacheCore::AddResidentLocked(CacheEntry* entry, InsertKind kind) {
  by_address_.insert(entry);
  used_bytes_ += entry->size;
  policy_->OnInsert(entry->cache_key, entry->reserved_bytes(), kind);
}

void CacheCore::RemoveResidentLocked(CacheEntry* entry, bool policy_tracked) {
  if (policy_tracked) policy_->OnErase(entry->cache_key);
  by_address_.erase(entry);
  used_bytes_ -= entry->size;
  JournalRemoveLocked(*entry);
  if (options_.persist && entry->encrypted() && !options_.persist_encrypted) {
    // Zero the plaintext (in the unnamed private arena) and give its blocks back.
    ArenaOf(*entry).Discard(entry->start_page * kArenaPageSize, entry->pages * kArenaPageSize);
  }
  allocator_->Free(entry->start_page, entry->pages);
}

void CacheCore::DrainAccessesLocked() {
  // Cursors and speeds first: the hits below are stamped with the clock this sets.
  if (knowledge_ != nullptr) stream_feed_.Apply(*knowledge_);
  std::vector<BufferedAccess>& batch = drain_batch_;
  batch.clear();
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    // Only hits on entries still resident reach the policy (it tracks residents only); none
    // can come or go until space_mu_ is released.
    for (const BufferedAccess& access : shard.accesses) {
      if (shard.entries.contains(access.key)) batch.push_back(access);
    }
    shard.accesses.clear();
  }
  // In the order the hits happened, not shard by shard: recency policies depend on it.
  std::sort(batch.begin(), batch.end(), [](const BufferedAccess& a, const BufferedAccess& b) {
    return a.sequence < b.sequence;
  });
  for (const BufferedAccess& access : batch) {
    if (access.stream) {
      policy_->OnStreamAccess(access.key);
    } else {
      policy_->OnAccess(access.key);
    }
  }
}

void CacheCore::MaybeDrainAccesses() {
  if (!space_mu_.try_lock()) return;  // a fill or eviction holds it and will drain
  DrainAccessesLocked();
  space_mu_.unlock();
}

void CacheCore::JournalInsertLocked(const CacheEntry& entry) {
  if (journal_ == nullptr || !ShouldPersist(entry)) return;
  const PersistedEntry record = ToPersisted(entry);
  if (absl::Status written = journal_->AppendInsert(record); !written.ok()) {
    spdlog::error("{}; the cache stops persisting entries", ToStd(written.message()));
    journal_.reset();
    return;
  }
  if (journal_->records() > 4 * by_address_.size() + 1024) CompactJournalLocked();
}

void CacheCore::JournalRemoveLocked(const CacheEntry& entry) {
  if (journal_ == nullptr || !ShouldPersist(entry)) return;
  if (absl::Status written = journal_->AppendRemove(entry.cache_key, entry.start_page);
      !written.ok()) {
    spdlog::error("{}; the cache stops persisting entries", ToStd(written.message()));
    journal_.reset();
  }
}

void CacheCore::CompactJournalLocked() {
  std::vector<PersistedEntry> live;
  live.reserve(by_address_.size());
  for (const CacheEntry* entry : by_address_) {
    if (ShouldPersist(*entry)) live.push_back(ToPersisted(*entry));
  }
  const std::filesystem::path path = journal_->path();
  journal_.reset();
  absl::StatusOr<std::unique_ptr<PersistenceJournal>> rewritten =
      PersistenceJournal::Rewrite(path, live);
  if (!rewritten.ok()) {
    spdlog::error("{}; the cache stops persisting entries", ToStd(rewritten.status().message()));
    return;
  }
  journal_ = *std::move(rewritten);
}

}  // namespace chunkcache::internal
