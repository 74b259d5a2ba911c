#include "cache/chunk_cache.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cache/internal/cache_core.h"
#include "cache/internal/pending_fetch.h"
#include "cache/internal/result_slot.h"

namespace chunkcache {

absl::StatusOr<ChunkHandle> ChunkLookup::TakeResult() {
  if (!result_.has_value()) {
    return absl::FailedPreconditionError("the lookup is still waiting for its fetch");
  }
  absl::StatusOr<ChunkHandle> result = *std::move(result_);
  result_.reset();
  return result;
}

bool ChunkLookup::Cancel() {
  if (fetch_ == nullptr) return false;
  const bool removed = fetch_->RemoveWaiter(waiter_id_);
  fetch_.reset();
  return removed;
}

ChunkLookup ChunkLookup::Ready(absl::StatusOr<ChunkHandle> result) {
  ChunkLookup lookup;
  lookup.result_.emplace(std::move(result));
  return lookup;
}

ChunkLookup ChunkLookup::Waiting(std::shared_ptr<internal::PendingFetch> fetch,
                                 uint64_t waiter_id) {
  ChunkLookup lookup;
  lookup.fetch_ = std::move(fetch);
  lookup.waiter_id_ = waiter_id;
  return lookup;
}

absl::StatusOr<std::unique_ptr<ChunkCache>> ChunkCache::Open(const ChunkCacheOptions& options) {
  absl::StatusOr<std::unique_ptr<internal::CacheCore>> core = internal::CacheCore::Open(options);
  if (!core.ok()) return core.status();
  return std::unique_ptr<ChunkCache>(new ChunkCache(*std::move(core)));
}

ChunkCache::ChunkCache(std::unique_ptr<internal::CacheCore> core) : core_(std::move(core)) {}
ChunkCache::~ChunkCache() = default;

ChunkLookup ChunkCache::Lookup(const ChunkRequest& request, ChunkCallback on_ready,
                               FetchPriority priority) {
  return core_->Lookup(request, priority, std::move(on_ready));
}

absl::StatusOr<ChunkHandle> ChunkCache::Get(const ChunkRequest& request, absl::Time deadline) {
  // The callback may outlive this call (when the wait times out but the callback is already
  // running), so the slot it fills is shared.
  using Slot = internal::ResultSlot<absl::StatusOr<ChunkHandle>>;
  auto slot = std::make_shared<Slot>();
  ChunkLookup lookup =
      Lookup(request, [slot](absl::StatusOr<ChunkHandle> chunk) { slot->Set(std::move(chunk)); });
  if (lookup.ready()) return lookup.TakeResult();
  if (!slot->WaitUntil(deadline)) {
    if (lookup.Cancel()) {
      return absl::DeadlineExceededError(
          absl::StrCat("chunk ", request.digest.ShortHex(), " from ", request.source->datastore,
                       " not ready before the deadline; its fetch continues"));
    }
    slot->Wait();  // the callback is running
  }
  return slot->Take();
}

PrefetchOutcome ChunkCache::Prefetch(const ChunkRequest& request) {
  return core_->Prefetch(request);
}

bool ChunkCache::Contains(const ChunkDigest& cache_key) const { return core_->Contains(cache_key); }

uint64_t ChunkCache::CachedBytes(absl::Span<const ChunkDigest> cache_keys) const {
  return core_->CachedBytes(cache_keys);
}

CacheStats ChunkCache::Stats() const { return core_->Stats(); }

const ChunkCacheOptions& ChunkCache::options() const { return core_->options(); }

bool ChunkCache::knows_streams() const { return core_->knows_streams(); }

ReaderStream ChunkCache::OpenStream(std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                                    StreamDirection direction, uint64_t end) {
  if (!core_->knows_streams()) return ReaderStream();
  return core_->stream_feed().Open(std::move(order), cursor, direction, end);
}

size_t ChunkCache::open_streams() const { return core_->stream_feed().open_streams(); }

void ChunkCache::AddHintedUses(const ChunkDigest& cache_key, uint32_t uses) {
  if (core_->knows_streams()) core_->stream_feed().AddHintedUses(cache_key, uses);
}

uint64_t ChunkCache::ReserveHintedBytes(uint64_t bytes) {
  return core_->hinted_budget.ReserveUpTo(bytes);
}

void ChunkCache::ReleaseHintedBytes(uint64_t bytes) { core_->hinted_budget.Release(bytes); }

bool ChunkCache::TryReserveReadaheadBytes(uint64_t bytes) {
  return core_->readahead_budget.TryReserve(bytes);
}

void ChunkCache::ReleaseReadaheadBytes(uint64_t bytes) { core_->readahead_budget.Release(bytes); }

void ChunkCache::SessionOpened() { core_->sessions_open.fetch_add(1, std::memory_order_relaxed); }

void ChunkCache::SessionClosed() { core_->sessions_open.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace chunkcache
