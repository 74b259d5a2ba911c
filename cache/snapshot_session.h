// SnapshotSession: one open archive of one snapshot (e.g. vm/100/...: drive-scsi0.img.fidx),
// read through the shared ChunkCache.
//
// Opening loads and checks, once: the manifest (key fingerprint and signature; an encrypted
// archive without a key is refused), the index (parsed and checked against the manifest's
// size and checksum). The session then:
//  * resolves reads of [offset, offset + length) into pinned chunk slices (range_read.h),
//    fetching the missing chunks in parallel;
//  * pins its hinted set (the most-referenced chunks, e.g. the zero chunk) for as long as it
//    is open, fetching them in the background at prefetch priority;
//  * runs readahead for sequential readers (internal/readahead_detector.h);
//  * when the cache's policy uses its readers' future (ChunkCache::knows_streams), registers
//    its readers as streams of the archive's index order, shared by its readers: a reader
//    that declared its range (a StreamRange: OpenRangeStream) from its first read, as a stream
//    of that range; every other sequential reader the readahead detector sees (a restore's
//    ReadRange calls, an NBD client's block-stream copy) once the detector sees it, as a
//    backward stream when it reads downwards (a tool restoring from the end). At most
//    max_reader_streams at once. It moves each as its reader reads and closes it when the
//    reader ends or the detector drops it, when the session's reads idle for
//    pin_idle_timeout (a declared reader's next read registers it again), or when the session
//    closes; and reports its hinted set's references and Prefetch ranges as hinted uses;
//  * answers explicit Prefetch(ranges) and StatSnapshot.
// Sessions are shared by every client of the archive through the SessionRegistry.
//
//   absl::StatusOr<std::shared_ptr<SnapshotSession>> session = SnapshotSession::Open(
//       cache, {"store1", upstream, key}, snapshot, "drive-scsi0.img.fidx", SessionOptions{});
//   absl::StatusOr<RangeRead> read = (*session)->Read(0, 65536, absl::Now() + absl::Seconds(5));
//
// Thread-safe. Shared (std::shared_ptr); the cache must outlive every session.
#ifndef CHUNKCACHE_CACHE_SNAPSHOT_SESSION_H_
#define CHUNKCACHE_CACHE_SNAPSHOT_SESSION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cache/cache_options.h"
#include "cache/chunk_cache.h"
#include "cache/chunk_handle.h"
#include "cache/chunk_request.h"
#include "cache/internal/distinct_chunks.h"
#include "cache/range_read.h"
#include "cache/reader_stream.h"
#include "cache/stream_knowledge.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/manifest.h"
#include "format/snapshot_name.h"
#include "upstream/upstream.h"

namespace chunkcache {

namespace internal {
class ReadaheadDetector;
struct ReadaheadPlan;
}  // namespace internal

class SnapshotSession;

// A reader that declared the range it reads (a StreamRange call), from
// SnapshotSession::OpenRangeStream. Pass it to each of the reader's reads (ReadAsync): with
// the index policy the first read registers it as a stream of that range and each read moves
// it. Closing or destroying it ends the stream. Move-only; empty when default-constructed.
class RangeStream {
 public:
  RangeStream() = default;
  RangeStream(RangeStream&& other) noexcept;
  RangeStream& operator=(RangeStream&& other) noexcept;
  RangeStream(const RangeStream&) = delete;
  RangeStream& operator=(const RangeStream&) = delete;
  ~RangeStream() { Close(); }
  void Close();

 private:
  friend class SnapshotSession;
  RangeStream(std::shared_ptr<SnapshotSession> session, uint64_t id)
      : session_(std::move(session)), id_(id) {}
  std::shared_ptr<SnapshotSession> session_;
  uint64_t id_ = 0;
};

// A configured datastore: its name (for metrics and the session key), where its bytes come
// from and its key, if one is configured.
struct DatastoreRef {
  std::string name;
  std::shared_ptr<Upstream> upstream;
  std::shared_ptr<const CryptConfig> key;
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct PrefetchCounts {
  uint64_t chunks_requested = 0;  // queued now or already being fetched
  uint64_t chunks_already_cached = 0;
  // Not queued: the prefetch queue was full, or the entry lies beyond the max_prefetch_chunks
  // entries one call walks. Counted per index entry: a chunk that repeats in the part not
  // walked counts once per entry.
  uint64_t chunks_dropped = 0;
};

// What StatSnapshot reports (proto SnapshotInfo).
struct SnapshotStats {
  uint64_t size = 0;
  uint64_t chunk_size = 0;  // fixed index: chunk size; dynamic: 0
  uint64_t chunk_count = 0;
  uint64_t distinct_chunks = 0;
  std::string crypt_mode;  // "none" | "encrypt" | "sign-only"
  uint64_t hinted_chunks = 0;
  uint64_t cached_bytes = 0;  // decoded bytes of this archive's distinct chunks now cached
  std::string index_csum;     // hex
};

class SnapshotSession : public std::enable_shared_from_this<SnapshotSession> {
 public:
  // Errors: INVALID_ARGUMENT (archive name that is not a .fidx/.didx), NOT_FOUND (snapshot,
  // manifest or archive missing), FAILED_PRECONDITION (encrypted without a key, wrong key),
  // DATA_LOSS (manifest, signature or index that does not check out), or the upstream's
  // error. Blocks on the upstream to read the manifest and the index.
  static absl::StatusOr<std::shared_ptr<SnapshotSession>> Open(ChunkCache* cache,
                                                               DatastoreRef datastore,
                                                               const SnapshotName& snapshot,
                                                               std::string_view archive,
                                                               const SessionOptions& options);
  ~SnapshotSession();
  SnapshotSession(const SnapshotSession&) = delete;
  SnapshotSession& operator=(const SnapshotSession&) = delete;

  // Reads [offset, offset + length): short at the end of the archive with eof set.
  // INVALID_ARGUMENT for length 0 or above max_read_bytes, OUT_OF_RANGE for an offset at or
  // past the end; chunk errors as ChunkCache (DATA_LOSS, UNAVAILABLE...). `requester`
  // names the reader for the fair sharing of the fetch queue (ChunkRequest::requester), and
  // tells a sequential reader's reads that arrive out of order from other readers' random ones
  // (ReadaheadDetector::Continuation::sequential_reader).
  // `range_stream`: the read is one of a reader that declared its range (OpenRangeStream).
  RangeReadTicket ReadAsync(uint64_t offset, uint64_t length, RangeReadCallback on_done,
                            uint64_t requester = 0, const RangeStream* range_stream = nullptr);

  // A reader that will read [offset, end) in order (end past the archive: to its end), such as
  // a StreamRange call: with the index policy its reads passed with the handle are a stream of
  // that range from the first (ReadAsync). An empty handle when the policy does not use
  // streams or the range is empty or past the end.
  RangeStream OpenRangeStream(uint64_t offset, uint64_t end);
  // The same, waiting until `deadline` (DEADLINE_EXCEEDED; the fetches continue).
  absl::StatusOr<RangeRead> Read(uint64_t offset, uint64_t length, absl::Time deadline);

  // Queues the chunks of `ranges` at prefetch priority. Same range errors as Read (length 0,
  // offset past the end); a range running past the end is cut there; INVALID_ARGUMENT for more
  // than max_prefetch_ranges ranges. The ranges are clipped, sorted and merged into runs of
  // index entries, which are walked in archive order until max_prefetch_chunks entries were
  // considered or the prefetch queue is full; the rest counts as dropped. So a call costs
  // O(ranges log ranges + max_prefetch_chunks) whatever the ranges cover: cheap enough for a
  // gRPC callback thread.
  absl::StatusOr<PrefetchCounts> Prefetch(absl::Span<const ByteRange> ranges);

  // Everything but cached_bytes was computed at open. cached_bytes costs one cache lookup per
  // distinct chunk (distinct_chunks()): for a big archive, call this off gRPC callback threads.
  SnapshotStats Stats() const;
  size_t distinct_chunks() const { return distinct_.count(); }

  // The heap this session holds for its archive (index entries, its distinct chunks, and a
  // fixed allowance for the manifest and the read state; with the index policy also its
  // stream order, the policy's position index of it and the policy's ordered set of its cached
  // keys' positions at their largest, StreamOrderHeapBytes, charged from
  // the open since any read may make them): what the SessionRegistry charges against
  // SessionOptions::max_open_index_bytes.
  uint64_t heap_bytes() const { return heap_bytes_; }

  // Releases the hinted set's pins now (the registry calls it when closing the session); the
  // session stays readable.
  void ReleaseHints();

  // Gives back every readahead pin if no read came for ReadaheadOptions::pin_idle_timeout
  // before `now` (its readers paused or stalled); returns how many pins went. The chunks stay
  // cached, evictable. The registry's reaper calls it; tests may call it directly.
  size_t ReleaseIdleReadaheadPins(absl::Time now);

  const ChunkIndex& index() const { return index_; }
  const Manifest& manifest() const { return manifest_; }
  const std::string& datastore() const { return source_->datastore; }
  const SnapshotName& snapshot() const { return snapshot_; }
  const std::string& archive() const { return archive_; }
  CryptMode crypt_mode() const { return source_->crypt_mode; }

  // The request for index entry `entry` (its digest, cache key and expected length).
  ChunkRequest RequestFor(size_t entry) const;

  // Hinted chunks chosen at open, and how many of them are pinned now.
  size_t hinted_chunks() const { return hinted_chosen_; }
  size_t hinted_chunks_pinned() const;
  // Readahead activity: chunks queued by readahead, and the widest current window.
  uint64_t readahead_chunks_requested() const {
    return readahead_requested_.load(std::memory_order_relaxed);
  }
  size_t readahead_window() const;
  // Readahead chunks pinned now (arrived, not yet reached by a read) and their bytes.
  size_t readahead_chunks_pinned() const;
  // Readers registered with the policy as streams now (0 unless the cache knows streams).
  size_t reader_streams_open() const;

 private:
  friend class RangeStream;  // closes its declared reader

  SnapshotSession(ChunkCache* cache, std::shared_ptr<const ChunkSource> source,
                  SnapshotName snapshot, std::string archive, Manifest manifest, ChunkIndex index,
                  const SessionOptions& options);
  void PinHintedSet(const std::vector<DigestCount>& hinted);
  void AdoptHint(absl::StatusOr<ChunkHandle> chunk);
  void Readahead(uint64_t offset, uint64_t end, size_t first_entry, size_t last_entry,
                 uint64_t requester, bool declared);
  void AdoptReadahead(size_t entry, uint64_t read_tick, absl::StatusOr<ChunkHandle> chunk);
  // Whether a read that touches `entry` is a stream read of a chunk the session's readahead
  // fetched for it (ChunkRequest::stream_read); `continues_stream` is the detector's
  // Continuation::windowed_stream for the read, asked once per read.
  bool IsStreamReadLocked(bool continues_stream, size_t entry) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A readahead chunk requested with a pin: the handle arrives with the chunk and is dropped
  // when a read reaches the entry, when the session's reads have not reached it within
  // pin_max_reads reads, when the session has not been read for pin_idle_timeout, or when the
  // session is closed. Its bytes count against the session's cap and the cache-wide budget.
  struct ReadaheadPin {
    size_t entry = 0;
    uint64_t bytes = 0;
    uint64_t requested_at_read = 0;
    ChunkHandle handle;  // empty until the chunk arrives
    // Not cached when requested: this readahead fetched it (or joined its fetch), so reads of
    // it by the stream are stream reads. A chunk that was cached already (another reader's,
    // or another stream's) is an ordinary hit.
    bool fetched = false;
  };
  // Moves every readahead pin to `unpinned` (to be released after the lock) and gives their
  // bytes back to the cache-wide budget.
  void DropAllReadaheadPinsLocked(std::vector<ReadaheadPin>& unpinned)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens, moves or closes the policy's stream of the detector's stream `plan.reader`, read by
  // the session's read number `read_tick`, and closes the streams of readers that have not
  // read within pin_max_reads of the session's reads (a reader that jumped elsewhere leaves
  // its old detector stream behind).
  // A reader with a declared range (`declared`) is not registered through the detector.
  void FollowReaderLocked(const internal::ReadaheadPlan& plan, uint64_t read_tick, bool declared)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Registers or moves the declared reader `id` reading `entry`; whether it is registered.
  bool FollowRangeStreamLocked(uint64_t id, size_t entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseRangeStream(uint64_t id);
  // Opens `stream` at `cursor` (reading up to `end`, or down from `cursor` when backward)
  // within max_reader_streams.
  void OpenPolicyStreamLocked(ReaderStream& stream, size_t cursor, uint64_t end,
                              StreamDirection direction) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClosePolicyStreamLocked(ReaderStream& stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a read starting at `offset` continues a stream registered with the policy.
  // Whether the detector's sequential stream `slot` (Continuation::sequential_slot of a read) is
  // registered with the policy.
  bool ContinuesRegisteredStreamLocked(std::optional<size_t> slot) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseReaderStreamsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ChunkCache* const cache_;
  const std::shared_ptr<const ChunkSource> source_;
  const SnapshotName snapshot_;
  const std::string archive_;
  const Manifest manifest_;
  const ChunkIndex index_;
  const SessionOptions options_;
  const internal::DistinctChunks distinct_;
  const uint64_t heap_bytes_;
  size_t hinted_chosen_ = 0;           // set in Open, then constant
  uint64_t hinted_bytes_granted_ = 0;  // from the cache-wide budget; returned on release
  std::atomic<uint64_t> readahead_requested_{0};

  mutable std::mutex mu_;
  std::unique_ptr<internal::ReadaheadDetector> readahead_ ABSL_GUARDED_BY(mu_);
  std::vector<HintedChunk> hinted_ ABSL_GUARDED_BY(mu_);
  const uint64_t max_readahead_pin_bytes_;
  std::vector<ReadaheadPin> readahead_pins_ ABSL_GUARDED_BY(mu_);  // in request order
  uint64_t readahead_pinned_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The entries of the latest readahead pins that reads reached (a ring): the stream reads a
  // chunk in pieces, and the pieces after the first find the pin already released.
  static constexpr size_t kStreamReachedMemory = 64;
  std::vector<size_t> stream_reached_ ABSL_GUARDED_BY(mu_);
  size_t stream_reached_next_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_read_ ABSL_GUARDED_BY(mu_) = absl::Now();
  bool hints_released_ ABSL_GUARDED_BY(mu_) = false;
  // The archive's cache keys in index order, made when its first stream is registered and
  // shared by all its streams (and by the policy, which indexes it once).
  std::shared_ptr<const StreamOrder> stream_order_ ABSL_GUARDED_BY(mu_);
  // The policy's stream of each of the readahead detector's streams (by slot); empty handles
  // when the cache does not know streams.
  std::vector<ReaderStream> reader_streams_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> reader_stream_last_read_ ABSL_GUARDED_BY(mu_);  // read ticks, by slot
  // Readers with a declared range (RangeStream), by id: their stream (not open before their
  // first read, while max_reader_streams are open, or after an idle close) and range.
  struct DeclaredReader {
    ReaderStream stream;
    size_t end_entry = 0;
  };
  absl::flat_hash_map<uint64_t, DeclaredReader> declared_readers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_declared_reader_ ABSL_GUARDED_BY(mu_) = 1;
  // Open streams among reader_streams_ and declared_readers_.
  size_t policy_streams_open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_SNAPSHOT_SESSION_H_
