#include "cache/trace/chunk_cache_replay.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cache/cache_options.h"
#include "cache/chunk_cache.h"
#include "cache/chunk_request.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

constexpr uint64_t kArenaPage = 4096;
constexpr absl::Duration kAccessTimeout = absl::Seconds(30);

// A payload that differs for every chunk id (and does not compress to nothing).
std::string PayloadFor(uint64_t chunk, uint64_t bytes) {
  std::string payload(bytes, '\0');
  uint64_t state = chunk * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < payload.size(); ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    payload[i] = static_cast<char>(state);
  }
  return payload;
}

// One lookup at `priority`, waited for; the handle is released before returning.
absl::Status LookupAndWait(ChunkCache& cache, const ChunkRequest& request, FetchPriority priority) {
  auto done = std::make_shared<absl::Notification>();
  auto status = std::make_shared<absl::Status>();
  ChunkLookup lookup = cache.Lookup(
      request,
      [done, status](absl::StatusOr<ChunkHandle> chunk) {
        *status = chunk.status();
        // Unpin before the next access can run: a pinned chunk is never a victim.
        if (chunk.ok()) chunk->Release();
        done->Notify();
      },
      priority);
  if (lookup.ready()) return lookup.TakeResult().status();
  if (!done->WaitForNotificationWithTimeout(kAccessTimeout)) {
    lookup.Cancel();
    return absl::DeadlineExceededError("chunk lookup did not finish in 30 s");
  }
  return *status;
}

}  // namespace

absl::StatusOr<ReplayResult> ChunkCacheReplay(absl::Span<const ReplayAccess> accesses,
                                              const ChunkCacheReplayOptions& options) {
  if (options.payload_bytes == 0 || options.payload_bytes % kArenaPage != 0) {
    return absl::InvalidArgumentError(absl::StrCat("payload_bytes must be a positive multiple of ",
                                                   kArenaPage, ", not ", options.payload_bytes));
  }
  if (options.capacity_chunks == 0) {
    return absl::InvalidArgumentError("a ChunkCache needs a capacity of at least one chunk");
  }
  auto upstream = std::make_shared<MemoryUpstream>("trace replay");
  absl::flat_hash_map<uint64_t, ChunkDigest> digests;
  for (const ReplayAccess& access : accesses) {
    if (digests.contains(access.chunk)) continue;
    absl::StatusOr<ChunkDigest> digest =
        upstream->AddChunkData(PayloadFor(access.chunk, options.payload_bytes));
    if (!digest.ok()) return digest.status();
    digests.emplace(access.chunk, *digest);
  }

  ChunkCacheOptions cache_options;
  cache_options.cache_dir = options.cache_dir;
  cache_options.capacity_bytes = options.capacity_chunks * options.payload_bytes;
  cache_options.policy = options.policy;
  absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(cache_options);
  if (!cache.ok()) return cache.status();

  auto source = std::make_shared<const ChunkSource>(ChunkSource{"replay", upstream});
  ReplayResult result;
  for (const ReplayAccess& access : accesses) {
    const bool is_guest = access.source == AccessSource::kGuest;
    const FetchPriority priority = is_guest || options.copy_admission == CopyAdmission::kDemand
                                       ? FetchPriority::kDemand
                                       : FetchPriority::kPrefetch;
    const ChunkRequest request =
        MakeChunkRequest(source, digests.at(access.chunk), options.payload_bytes);
    const size_t fetches_before = upstream->TotalChunkReads();
    if (absl::Status status = LookupAndWait(**cache, request, priority); !status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("replaying chunk ", access.chunk, ": ", status.message()));
    }
    ReplayCounts& counts = is_guest ? result.guest : result.copy;
    ++counts.accesses;
    counts.misses += upstream->TotalChunkReads() - fetches_before;
  }
  return result;
}

}  // namespace chunkcache
