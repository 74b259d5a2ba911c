#include "cache/internal/stats_counters.h"

#include <algorithm>

#include "format/string_view_compat.h"

namespace chunkcache {

std::string_view LookupResultName(LookupResult result) {
  switch (result) {
    case LookupResult::kHit:
      return "hit";
    case LookupResult::kHintedHit:
      return "hinted_hit";
    case LookupResult::kMiss:
      return "miss";
    case LookupResult::kCoalesced:
      return "coalesced";
  }
  return "unknown";
}

std::string_view FetchResultName(FetchResult result) {
  switch (result) {
    case FetchResult::kOk:
      return "ok";
    case FetchResult::kError:
      return "error";
    case FetchResult::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

namespace internal {

void StatsCounters::CountLookup(LookupResult result) {
  lookups_[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->OnLookup(result);
}

void StatsCounters::CountFetch(std::string_view datastore, FetchResult result,
                               absl::Duration duration, uint64_t raw_bytes) {
  DatastoreCounters* counters;
  {
    std::lock_guard<std::mutex> lock(datastores_mu_);
    auto& slot = datastores_[ToAbsl(datastore)];
    if (slot == nullptr) slot = std::make_unique<DatastoreCounters>();
    counters = slot.get();  // never removed, so usable after the lock
  }
  switch (result) {
    case FetchResult::kOk:
      counters->ok.fetch_add(1, std::memory_order_relaxed);
      break;
    case FetchResult::kError:
      counters->error.fetch_add(1, std::memory_order_relaxed);
      break;
    case FetchResult::kCorrupt:
      counters->corrupt.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  counters->raw_bytes.fetch_add(raw_bytes, std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->OnUpstreamFetch(datastore, result, duration, raw_bytes);
}

void StatsCounters::CountDecodeError(DecodeErrorReason reason) {
  decode_errors_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->OnDecodeError(reason);
}

void StatsCounters::CountEviction(uint64_t bytes) {
  evictions_.fetch_add(1, std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->OnEviction(bytes);
}

void StatsCounters::CountPrefetchOutcome(bool used) {
  (used ? prefetch_used_ : prefetch_wasted_).fetch_add(1, std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->OnPrefetchOutcome(used);
}

void StatsCounters::FillInto(CacheStats& stats) const {
  auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  stats.lookups.hit = load(lookups_[static_cast<size_t>(LookupResult::kHit)]);
  stats.lookups.hinted_hit = load(lookups_[static_cast<size_t>(LookupResult::kHintedHit)]);
  stats.lookups.miss = load(lookups_[static_cast<size_t>(LookupResult::kMiss)]);
  stats.lookups.coalesced = load(lookups_[static_cast<size_t>(LookupResult::kCoalesced)]);
  for (size_t i = 0; i < kDecodeErrorReasonCount; ++i) {
    stats.decode_errors[i] = load(decode_errors_[i]);
  }
  stats.evictions = load(evictions_);
  stats.prefetch_used = load(prefetch_used_);
  stats.prefetch_wasted = load(prefetch_wasted_);
  stats.fetches_rejected = load(fetches_rejected);
  stats.prefetches_dropped = load(prefetches_dropped);
  stats.fills_without_room = load(fills_without_room);
  stats.fill_room_rechecks = load(fill_room_rechecks);
  stats.arena.fragmentation_evictions = load(fragmentation_evictions);
  stats.persisted_entries_loaded = load(persisted_loaded);
  stats.persisted_entries_verified = load(persisted_verified);
  stats.persisted_entries_dropped = load(persisted_dropped);
  stats.fetches.clear();
  std::lock_guard<std::mutex> lock(datastores_mu_);
  for (const auto& [name, c] : datastores_) {
    stats.fetches.push_back(DatastoreFetchCounts{name, load(c->ok), load(c->error),
                                                 load(c->corrupt), load(c->raw_bytes)});
  }
  std::sort(stats.fetches.begin(), stats.fetches.end(),
            [](const auto& a, const auto& b) { return a.datastore < b.datastore; });
}

}  // namespace internal
}  // namespace chunkcache
