// Options of the chunk cache and of its snapshot sessions, with their defaults. The service
// fills them from its config; tests set only what they exercise.
//
//   ChunkCacheOptions options;
//   options.cache_dir = "/var/cache/chunkcache";
//   options.capacity_bytes = 8ull << 30;
//   absl::Status valid = ValidateChunkCacheOptions(options);
//
// Plain values; copy freely.
#ifndef CHUNKCACHE_CACHE_CACHE_OPTIONS_H_
#define CHUNKCACHE_CACHE_CACHE_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace chunkcache {

class CacheStatsObserver;

struct ChunkCacheOptions {
  // Directory for the arena file, its journal and the lock file. Created if missing.
  std::filesystem::path cache_dir;
  // Bytes of decoded chunks the arena holds (rounded down to whole 4 KiB pages). Pinned and
  // hinted chunks count against it.
  uint64_t capacity_bytes = uint64_t{1} << 30;
  // An EvictionPolicyNames() entry; empty means DefaultEvictionPolicyName().
  std::string policy;

  // Upstream fetches running at once (one worker thread each). PBS measured 573 MB/s with one
  // fetch in flight and 2386 MB/s with 16.
  int max_concurrent_fetches = 16;
  // Fetches waiting for a worker. A demand miss beyond this bound is RESOURCE_EXHAUSTED; a
  // prefetch beyond max_queued_prefetches is dropped. Demand fetches always run first.
  size_t max_queued_fetches = 1024;
  size_t max_queued_prefetches = 256;
  // Readahead and other prefetches running on one upstream while a random reader's demand
  // fetch (a guest's read next to a restore of its disk: a read that continues no sequential
  // stream) is queued or running on it. An upstream serves requests in the order they come,
  // so that fetch waits behind the prefetches already running: this bound is how many. 0:
  // readahead waits while a random reader waits, and the guest's miss waits only behind the
  // fetches sequential readers wait for themselves. Sequential readers (restores, copies) never
  // hold readahead back. The default 1 keeps one prefetch going: a pipelined restore whose
  // first reads (before the detector knows its stream) look random does not stall.
  size_t max_readahead_fetches_under_demand = 1;
  // The bound holds on for a window after a random reader's fetch is done: this many times
  // the time random readers' fetches have been taking on that upstream (a moving average).
  // A guest misses in bursts, its next miss a moment after the last; without the window the
  // readahead started in that moment is ahead of it again. After the window the upstream's
  // prefetch depth starts from max(bound, 1) and doubles with each fetch completed on it, up
  // to max_concurrent_fetches. 0 (the default): no window; 1 suits a live-restore node, where a
  // guest booting from the export matters more than the copy's speed.
  double readahead_yield_window_fetch_times = 0;
  // The clock of that window; empty means absl::Now. Tests substitute a manual one.
  std::function<absl::Time()> clock;

  // How long a fill that finds no room waits for some before it fails with
  // RESOURCE_EXHAUSTED. Room held by other fills in progress and by reads still sending their
  // replies comes back within moments, so with many reads in flight through a small cache a
  // fill waits for it instead of failing a read that would fit a moment later. Room held by
  // hinted sets and long-held pins does not come back: such fills fail after this long. A
  // chunk larger than the whole cache fails at once.
  absl::Duration max_wait_for_room = absl::Seconds(5);

  // Chunks pinned by the hinted sets of all open sessions together, in bytes. 0 means a
  // quarter of the capacity.
  uint64_t max_hinted_bytes = 0;
  // Chunks pinned by the readahead of all open sessions together, in bytes (each session is
  // also capped by ReadaheadOptions::max_pinned_bytes). Readahead stops, it does not fail, when
  // this is spent. 0 means a quarter of the capacity.
  uint64_t max_readahead_pinned_bytes = 0;

  // Keep the arena in a named file with a journal, and serve its entries again after a
  // restart (each re-verified by digest before it is served).
  bool persist = false;
  // Also keep decrypted chunks of encrypted datastores across restarts. Off by default: with
  // it off, their plaintext never enters the named arena file; it is kept in a second,
  // unnamed arena file that vanishes with the process (and is zeroed when evicted).
  bool persist_encrypted = false;
  // Re-verify persisted plain entries in a background thread (in addition to the check on
  // first hit). Encrypted entries need their datastore's key and are verified on first hit.
  bool verify_persisted_in_background = true;

  // With the index policy: readers registered as policy streams at once, over all archives
  // together (each archive also within SessionOptions::max_reader_streams). A reader past the
  // bound reads as usual, unregistered, and registers at a later read once a stream has ended.
  // The policy's victim search walks two segments per stream (bounded walks), so this bounds
  // what one eviction costs however many archives clients open. 0: no reader is registered.
  size_t max_policy_streams = 64;

  // Receives raw observations (fetch durations, lookups...); may be null. Not owned; must
  // outlive the cache.
  CacheStatsObserver* observer = nullptr;
};

// INVALID_ARGUMENT naming the field when an option is unusable (no cache_dir, capacity below
// one page, no fetch workers...). Unknown policy names are checked when the cache is opened.
absl::Status ValidateChunkCacheOptions(const ChunkCacheOptions& options);

struct ReadaheadOptions {
  bool enabled = true;
  // Chunks fetched ahead once a stream is seen to be sequential; doubled each time the
  // reader reaches a prefetched chunk, up to max_window.
  size_t initial_window = 2;
  size_t max_window = 16;
  // Sequential streams tracked per session (a restore and guest reads at once).
  size_t streams = 4;
  // A read starting at most this far after the end of a stream's last read continues it.
  uint64_t max_gap_bytes = 256 * 1024;
  // Readahead chunks stay pinned from their arrival until a read reaches them, so a full cache
  // cannot evict a window before its reader arrives. At most this many bytes per session (and
  // never more than an eighth of the cache capacity; all sessions together within
  // ChunkCacheOptions::max_readahead_pinned_bytes); the window stops there until reads release
  // pins (an unpinned prefetch in a full cache is the first victim). A pin the session's reads
  // have not reached within `pin_max_reads` reads is dropped (the stream moved on). 0 bytes: no
  // pinning, and readahead fetches the whole window unpinned.
  uint64_t max_pinned_bytes = uint64_t{64} << 20;
  uint64_t pin_max_reads = 256;
  // A session none of whose readers has read for this long (a paused restore, a client that
  // stopped reading its stream) gives its readahead pins back: the chunks stay cached, but
  // evictable. Checked by the session registry's reaper thread (SessionRegistry).
  absl::Duration pin_idle_timeout = absl::Seconds(5);
};

struct SessionOptions {
  // Hinted set: at most this many of the most-referenced chunks (referenced at least twice),
  // within hinted_bytes_per_session and the cache-wide max_hinted_bytes.
  size_t hinted_chunks = 16;
  uint64_t hinted_bytes_per_session = uint64_t{64} << 20;
  // A session nobody used for this long is closed by the registry, releasing its pins.
  absl::Duration idle_timeout = absl::Minutes(10);
  // Heap held by the open sessions together: each is charged SnapshotSession::heap_bytes()
  // (about 9 MiB per TiB of fixed-index image, 16 MiB encrypted). An open beyond it closes
  // the least recently used sessions nobody holds; when the sessions in use leave no room it
  // fails with RESOURCE_EXHAUSTED. Without a bound, clients opening every archive they may
  // list would push the process into an OOM kill, losing the cache.
  uint64_t max_open_index_bytes = uint64_t{512} << 20;
  // One Prefetch call names at most this many ranges (INVALID_ARGUMENT beyond) and walks at
  // most this many index entries of their union; the rest is reported dropped. Both keep a
  // call cheap enough for a gRPC callback thread whatever the request and the index size.
  size_t max_prefetch_ranges = 1024;
  size_t max_prefetch_chunks = 4096;
  // Largest range one Read may cover; a read pins every chunk it touches until released.
  uint64_t max_read_bytes = uint64_t{64} << 20;
  // With the index policy: readers of one archive registered as policy streams at once, those
  // that declared their range (StreamRange calls) and those the readahead detector saw read
  // sequentially together; more readers read unregistered until one ends. Not the detector's
  // readahead.streams: many restores of one archive each feed the policy. Each stream costs
  // the policy about 2 segments of its victim search (bounded walks of its order) and ~300
  // bytes, so a client opening thousands of streams costs no more than this many.
  size_t max_reader_streams = 16;
  ReadaheadOptions readahead;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CACHE_OPTIONS_H_
