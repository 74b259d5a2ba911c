// The fetch side of CacheCore: what a worker does with a PendingFetch.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cache/internal/cache_core.h"
#include "cache/internal/status_copy.h"
#include "format/blob.h"
#include "format/crypt_config.h"
#include "format/decode_error.h"
#include "format/string_view_compat.h"
#include "spdlog/spdlog.h"

namespace chunkcache::internal {
namespace {

// The upstream's status with the chunk named, keeping its code (NOT_FOUND, UNAVAILABLE...).
absl::Status AnnotateUpstreamError(const absl::Status& status, const ChunkRequest& request) {
  return absl::Status(status.code(),
                      absl::StrCat("fetching chunk ", request.digest.ShortHex(), " from ",
                                   request.source->datastore, ": ", status.message()));
}

// `status` naming the archive whose index named the chunk (when known), with its payloads (the
// decode error reason) kept.
absl::Status NamingArchive(const absl::Status& status, const ChunkSource& source) {
  const std::string archive = source.Describe();
  if (archive.empty()) return status;
  absl::Status named(status.code(), absl::StrCat(status.message(), " (a chunk of ", archive, ")"));
  status.ForEachPayload([&named](absl::string_view url, const absl::Cord& payload) {
    named.SetPayload(url, payload);
  });
  return named;
}

}  // namespace

void CacheCore::RunFetch(std::shared_ptr<PendingFetch> fetch) {
  if (fetch->kind() == PendingFetch::Kind::kVerifyPersisted) {
    CacheEntry* entry = fetch->persisted();
    const ChunkRequest request = fetch->request();
    if (VerifyPersisted(*entry, request.source ? &request : nullptr)) {
      CompleteVerified(fetch);
      return;
    }
    spdlog::warn("persisted cache entry {} failed verification; dropped",
                 entry->digest().ShortHex());
    counters_.persisted_dropped.fetch_add(1, std::memory_order_relaxed);
    DropUnverified(entry);
    fetch->BecomeFetch();
  }
  FetchFromUpstream(fetch);
}

void CacheCore::FetchFromUpstream(const std::shared_ptr<PendingFetch>& fetch) {
  const ChunkRequest request = fetch->request();
  if (request.source == nullptr || request.source->upstream == nullptr) {
    // A background verification nobody was waiting for: nothing to fetch it for.
    Fail(fetch,
         absl::UnavailableError(absl::StrCat("cached copy of chunk ", request.digest.ShortHex(),
                                             " failed verification; retry to fetch it again")));
    return;
  }
  const ChunkSource& source = *request.source;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> raw = source.upstream->ReadChunk(
      request.digest,
      {.crypt_mode = source.crypt_mode, .snapshot = source.snapshot, .archive = source.archive});
  if (!raw.ok()) {
    counters_.CountFetch(source.datastore, FetchResult::kError, absl::Now() - start, 0);
    Fail(fetch, AnnotateUpstreamError(raw.status(), request));
    return;
  }
  // The index gives the length (fixed index: the chunk size; dynamic: the end offsets); else
  // the blob's header claims one (a chunk read by digest, as a rack tier serves GetChunk);
  // else reserve the most a chunk can be (within the arena) and trim afterwards. A claim too
  // small makes decoding fail: only a blob that does not verify anyway can lie.
  const std::optional<size_t> claimed = ClaimedDecodedSize(*raw);
  uint64_t reserve_bytes =
      std::min<uint64_t>(kMaxChunkSize, options_.capacity_bytes / kArenaPageSize * kArenaPageSize);
  if (request.expected_size.has_value()) {
    reserve_bytes = *request.expected_size;
  } else if (claimed.has_value()) {
    reserve_bytes = std::clamp<uint64_t>(*claimed, 1, kMaxChunkSize);
  }
  absl::StatusOr<CacheEntry*> reserved =
      ReserveEntry(request, reserve_bytes, fetch->demand_wanted());
  if (!reserved.ok()) {
    counters_.CountFetch(source.datastore, FetchResult::kOk, absl::Now() - start, raw->size());
    Fail(fetch, reserved.status());
    return;
  }
  CacheEntry* entry = *reserved;
  BlobDecodeOptions decode;
  decode.key = source.chunk_key();
  decode.expected_digest = request.digest;
  if (request.expected_size.has_value()) decode.expected_size = *request.expected_size;
  decode.expected_mode = source.crypt_mode;
  decode.accept_verified_plaintext = source.upstream->DeliversPlaintext();
  decode.max_decoded_size = kMaxChunkSize;
  absl::StatusOr<size_t> decoded =
      DecodeBlobInto(*raw, decode, absl::Span<char>(EntryData(*entry), reserve_bytes));
  if (!decoded.ok()) {
    ReleaseReserved(entry);
    const DecodeErrorReason reason =
        GetDecodeErrorReason(decoded.status()).value_or(DecodeErrorReason::kFormat);
    counters_.CountDecodeError(reason);
    counters_.CountFetch(source.datastore, FetchResult::kCorrupt, absl::Now() - start, raw->size());
    spdlog::warn("chunk {} from {} failed verification ({}): {}", request.digest.ShortHex(),
                 source.datastore, DecodeErrorReasonName(reason),
                 ToStd(decoded.status().message()));
    absl::Status status = decoded.status();
    if (status.code() != absl::StatusCode::kDataLoss &&
        status.code() != absl::StatusCode::kFailedPrecondition) {
      status = DecodeError(reason, ToStd(status.message()));
    }
    Fail(fetch, NamingArchive(status, source));
    return;
  }
  if (!request.expected_size.has_value()) ShrinkReserved(entry, *decoded);
  entry->size = static_cast<uint32_t>(*decoded);
  counters_.CountFetch(source.datastore, FetchResult::kOk, absl::Now() - start, raw->size());
  Publish(fetch, entry);
}

bool CacheCore::VerifyPersisted(const CacheEntry& entry, const ChunkRequest* request) const {
  const CryptConfig* key = nullptr;
  if (entry.encrypted()) {
    key = request != nullptr ? request->source->chunk_key() : nullptr;
    if (key == nullptr || key->fingerprint() != entry.key_fingerprint()) return false;
  }
  if (request != nullptr && request->expected_size.has_value() &&
      *request->expected_size != entry.size) {
    return false;
  }
  if (CacheKeyFor(entry.digest(), key) != entry.cache_key) return false;
  return ChunkDigestOf(std::string_view(EntryData(entry), entry.size), key) == entry.digest();
}

void CacheCore::CompleteVerified(const std::shared_ptr<PendingFetch>& fetch) {
  CacheEntry* entry = fetch->persisted();
  counters_.persisted_verified.fetch_add(1, std::memory_order_relaxed);
  std::vector<ChunkCallback> waiters;
  {
    Shard& shard = ShardFor(entry->cache_key);
    std::lock_guard<std::mutex> lock(shard.mu);
    entry->verified.store(true, std::memory_order_release);
    shard.pending.erase(entry->cache_key);
    waiters = fetch->TakeWaiters();
    entry->pins.fetch_add(static_cast<int32_t>(waiters.size()), std::memory_order_relaxed);
    // The verifier's pin; seq_cst and a notification as in ChunkHandle::Release.
    if (entry->pins.fetch_sub(1, std::memory_order_seq_cst) == 1) room_.NotifyIfWaiting();
  }
  for (ChunkCallback& waiter : waiters) waiter(HandleFor(entry));
}

void CacheCore::DropUnverified(CacheEntry* entry) {
  std::lock_guard<std::mutex> space(space_mu_);
  {
    Shard& shard = ShardFor(entry->cache_key);
    std::lock_guard<std::mutex> lock(shard.mu);
    // Only the verifier pins an unverified entry; the pending fetch stays in the shard map
    // and carries on as an upstream fetch for its waiters.
    shard.entries.erase(entry->cache_key);
  }
  // Zero the bad bytes before the extent can be handed to another fill.
  ArenaOf(*entry).Discard(entry->start_page * kArenaPageSize, entry->pages * kArenaPageSize);
  RemoveResidentLocked(entry, /*policy_tracked=*/true);
  CacheEntry::Destroy(entry);
}

void CacheCore::Publish(const std::shared_ptr<PendingFetch>& fetch, CacheEntry* entry) {
  std::vector<ChunkCallback> waiters;
  bool prefetch_used = false;
  {
    std::lock_guard<std::mutex> space(space_mu_);
    filling_pages_ -= entry->pages;
    DrainAccessesLocked();  // hits before this insert reach the policy before it
    Shard& shard = ShardFor(entry->cache_key);
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      // A prefetch only its stream waited for stays a prefetch for the policy, but it is used.
      const bool demand = fetch->demand_wanted();
      const bool used = demand || fetch->stream_wanted();
      prefetch_used = used && fetch->origin() == FetchPriority::kPrefetch;
      entry->prefetched_unused.store(!used, std::memory_order_relaxed);
      AddResidentLocked(entry, demand ? InsertKind::kDemand : InsertKind::kPrefetch);
      shard.entries.insert(entry);
      shard.pending.erase(entry->cache_key);
      waiters = fetch->TakeWaiters();
      entry->pins.fetch_add(static_cast<int32_t>(waiters.size()), std::memory_order_relaxed);
    }
    JournalInsertLocked(*entry);
  }
  room_.Notify();  // its extent is an entry now: evictable once its readers are done
  if (prefetch_used) counters_.CountPrefetchOutcome(/*used=*/true);
  for (ChunkCallback& waiter : waiters) waiter(HandleFor(entry));
}

void CacheCore::Fail(const std::shared_ptr<PendingFetch>& fetch, const absl::Status& status) {
  std::vector<ChunkCallback> waiters;
  {
    Shard& shard = ShardFor(fetch->cache_key());
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.pending.find(fetch->cache_key());
    if (it != shard.pending.end() && it->second == fetch) shard.pending.erase(it);
    waiters = fetch->TakeWaiters();
  }
  for (ChunkCallback& waiter : waiters) waiter(IndependentCopy(status));
}

void CacheCore::BackgroundVerifyLoop(std::vector<ChunkDigest> keys) {
  size_t verified = 0;
  for (const ChunkDigest& key : keys) {
    if (stopping_.load(std::memory_order_acquire)) return;
    std::shared_ptr<PendingFetch> fetch;
    {
      Shard& shard = ShardFor(key);
      std::lock_guard<std::mutex> lock(shard.mu);
      auto found = shard.entries.find(key);
      if (found == shard.entries.end() || shard.pending.contains(key) ||
          (*found)->verified.load(std::memory_order_acquire)) {
        continue;
      }
      CacheEntry* entry = *found;
      entry->pins.fetch_add(1, std::memory_order_relaxed);
      ChunkRequest request;
      request.cache_key = key;
      request.digest = entry->digest();
      fetch =
          std::make_shared<PendingFetch>(std::move(request), PendingFetch::Kind::kVerifyPersisted,
                                         FetchPriority::kPrefetch, entry);
      shard.pending.emplace(key, fetch);
    }
    RunFetch(std::move(fetch));
    ++verified;
  }
  spdlog::info("chunk cache checked {} persisted entries in the background", verified);
}

}  // namespace chunkcache::internal
