// ChunkCache: the process-wide, byte-bounded cache of decoded PBS chunks.
//
// One copy per chunk, shared by every snapshot session and client. Decoded bytes live in an
// mmap'd arena file in the cache dir (not on the heap); a hit hands out a pinned ChunkHandle
// that keeps the bytes in place until released. A miss is fetched from the request's upstream
// by a bounded pool of fetch workers, decoded and verified straight into the arena (CRC,
// crypt mode, AEAD tag, length, digest) and only then becomes visible; a chunk that fails is
// never cached and every waiter gets the error (DATA_LOSS for bad bytes).
//
// Concurrent lookups of one missing chunk share one fetch. The fetch belongs to the cache: a
// waiter that cancels or times out leaves it running for the others, and its result is
// cached. Errors are not cached; the next lookup fetches again.
//
// Room is made by the eviction policy named in the options (cache/eviction_policy.h); pinned
// chunks (live handles, hinted sets) are never victims. A fill that finds no room because
// everything is pinned waits for a pin to go (it is woken, it does not poll), up to
// max_wait_for_room, then fails with RESOURCE_EXHAUSTED instead of exceeding the capacity. What
// sessions pin for long (hinted sets, readahead) is capped cache-wide, so that pins of some
// clients cannot take all the room from the others.
//
//   absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(options);
//   ChunkRequest request = MakeChunkRequest(source, digest, expected_size);
//   // Synchronous, with a deadline:
//   absl::StatusOr<ChunkHandle> chunk = (*cache)->Get(request, absl::Now() + absl::Seconds(5));
//   // Asynchronous (callback servers): see chunk_lookup.h.
//   ChunkLookup lookup = (*cache)->Lookup(request, [](absl::StatusOr<ChunkHandle> c) {...});
//
// Thread-safe. Destroy sessions (and release every handle) before the cache; destruction
// waits for running fetches and fails queued ones with UNAVAILABLE.
#ifndef CHUNKCACHE_CACHE_CHUNK_CACHE_H_
#define CHUNKCACHE_CACHE_CHUNK_CACHE_H_

#include <cstdint>
#include <limits>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cache/cache_options.h"
#include "cache/cache_stats.h"
#include "cache/chunk_handle.h"
#include "cache/chunk_lookup.h"
#include "cache/chunk_request.h"
#include "cache/reader_stream.h"
#include "cache/stream_knowledge.h"
#include "format/digest.h"

namespace chunkcache {

namespace internal {
class CacheCore;
}  // namespace internal

enum class PrefetchOutcome {
  kCached,     // already in the cache
  kInFlight,   // a fetch is already queued or running
  kRequested,  // a prefetch was queued
  kDropped,    // the prefetch queue is full
};

class ChunkCache {
 public:
  // Creates the cache dir if needed, locks it (FAILED_PRECONDITION if another cache holds
  // it), creates or reopens the arena and starts the fetch workers. With persistence on,
  // returns as soon as the journal is read; entries are re-verified later, never all at once.
  static absl::StatusOr<std::unique_ptr<ChunkCache>> Open(const ChunkCacheOptions& options);
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // Asynchronous lookup (chunk_lookup.h). Demand lookups are counted in the lookup stats;
  // kPrefetch lookups (hinted sets) are not, and queue behind demand fetches. A demand lookup
  // with request.stream_read set is a sequential stream consuming its own readahead: a hit,
  // but the policy hears OnStreamAccess instead of OnAccess, and a prefetch in flight that it
  // waits for still enters the policy as a prefetch (counted as used, not wasted).
  ChunkLookup Lookup(const ChunkRequest& request, ChunkCallback on_ready,
                     FetchPriority priority = FetchPriority::kDemand);

  // Synchronous lookup: waits until the chunk is ready or `deadline` passes
  // (DEADLINE_EXCEEDED; the shared fetch keeps going and its chunk is still cached).
  absl::StatusOr<ChunkHandle> Get(const ChunkRequest& request, absl::Time deadline);

  // Starts a fetch at prefetch priority unless the chunk is cached or already in flight. The
  // chunk enters the policy as a prefetched entry (InsertKind::kPrefetch) unless a reader
  // asks for it before it arrives.
  PrefetchOutcome Prefetch(const ChunkRequest& request);

  // Whether `cache_key` is cached now (no lookup counted, nothing fetched).
  bool Contains(const ChunkDigest& cache_key) const;
  // Decoded bytes of those of `cache_keys` that are cached now (each key counted once).
  uint64_t CachedBytes(absl::Span<const ChunkDigest> cache_keys) const;

  CacheStats Stats() const;
  const ChunkCacheOptions& options() const;

  // Whether the eviction policy uses its readers' future (the `index` policy): only then do
  // sessions register streams and hinted uses.
  bool knows_streams() const;
  // Registers a sequential reader of `order` (the cache keys of an archive's index entries,
  // one shared order per archive) at `cursor`, for the policy (reader_stream.h). An empty
  // handle when the policy does not use streams. A demand lookup of such a reader should set
  // request.stream_read: then its misses enter the policy as the stream's (with a known
  // future) rather than as a reader's use of the chunk.
  // `end` (a forward reader's): the reader declared that it reads entries [cursor, end) only
  // (a StreamRange call); by default it reads on to the end of the order.
  ReaderStream OpenStream(std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                          StreamDirection direction = StreamDirection::kForward,
                          uint64_t end = std::numeric_limits<uint64_t>::max());
  // Streams registered with the policy and not closed (for tests and stats).
  size_t open_streams() const;
  // `cache_key` will be read `uses` more times by readers that are not streams (a hinted
  // chunk's references, a Prefetch range). Ignored when the policy does not use streams.
  void AddHintedUses(const ChunkDigest& cache_key, uint32_t uses);

  // For snapshot sessions: the cache-wide budget of hinted bytes. Reserve returns how many of
  // `bytes` were granted (possibly fewer, or 0); release what was granted when done.
  uint64_t ReserveHintedBytes(uint64_t bytes);
  void ReleaseHintedBytes(uint64_t bytes);
  // For snapshot sessions: the cache-wide budget of readahead pins
  // (ChunkCacheOptions::max_readahead_pinned_bytes). All of `bytes` or nothing; release what
  // was granted when the pin goes.
  bool TryReserveReadaheadBytes(uint64_t bytes);
  void ReleaseReadaheadBytes(uint64_t bytes);
  // For snapshot sessions: the sessions_open gauge.
  void SessionOpened();
  void SessionClosed();

 private:
  explicit ChunkCache(std::unique_ptr<internal::CacheCore> core);
  std::unique_ptr<internal::CacheCore> core_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CHUNK_CACHE_H_
