// ChunkCacheReplay: replays chunk accesses through a real ChunkCache (arena, fetch workers,
// eviction under the cache's own lock) backed by an in-memory upstream, and counts the
// upstream fetches as misses. It checks that the cache drives its policy as the policy-only
// model does: with LRU both give the same numbers.
//
//   absl::StatusOr<ReplayResult> result =
//       ChunkCacheReplay(GuestAccesses(trace), {.policy = "lru", .capacity_chunks = 64,
//                                               .cache_dir = scratch});
//
// Every chunk id gets its own small payload (`payload_bytes`, distinct per id), stored in a
// MemoryUpstream; the cache's capacity is capacity_chunks * payload_bytes. Guest accesses
// are synchronous demand lookups (Get) whose handle is released at once; background copy
// accesses are prefetch-priority lookups (CopyAdmission::kPrefetch) or demand lookups
// (kDemand), each waited for before the next access, so the replay is deterministic.
#ifndef CHUNKCACHE_CACHE_TRACE_CHUNK_CACHE_REPLAY_H_
#define CHUNKCACHE_CACHE_TRACE_CHUNK_CACHE_REPLAY_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/trace/replay_access.h"

namespace chunkcache {

struct ChunkCacheReplayOptions {
  std::string policy;  // "" = the default policy
  uint64_t capacity_chunks = 64;
  // A fresh directory for the arena (the caller removes it).
  std::filesystem::path cache_dir;
  // A multiple of the arena page (4 KiB), so the capacity holds exactly capacity_chunks.
  uint64_t payload_bytes = 4096;
  CopyAdmission copy_admission = CopyAdmission::kPrefetch;
};

absl::StatusOr<ReplayResult> ChunkCacheReplay(absl::Span<const ReplayAccess> accesses,
                                              const ChunkCacheReplayOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_CHUNK_CACHE_REPLAY_H_
