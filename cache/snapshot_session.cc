#include "cache/snapshot_session.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cache/internal/hinted_set.h"
#include "cache/internal/range_read_op.h"
#include "cache/internal/readahead_detector.h"
#include "cache/internal/result_slot.h"
#include "format/string_view_compat.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

constexpr char kManifestFileName[] = "index.json.blob";

absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

// What a session holds besides its index vectors (the manifest, names, readahead and pin
// state), as a fixed allowance: it keeps a flood of tiny archives from counting as free.
constexpr uint64_t kSessionOverheadBytes = 16 * 1024;

uint64_t HeapBytes(const ChunkIndex& index, const internal::DistinctChunks& distinct,
                   bool knows_streams) {
  const uint64_t per_entry =
      sizeof(ChunkDigest) + (index.kind() == IndexKind::kDynamic ? sizeof(uint64_t) : 0);
  const uint64_t streams =
      knows_streams ? StreamOrderHeapBytes(index.chunk_count(), distinct.count()) : 0;
  return index.chunk_count() * per_entry + distinct.heap_bytes() + kSessionOverheadBytes + streams;
}

// A run of whole index entries [first, last] that a Prefetch covers.
struct EntryRun {
  size_t first = 0;
  size_t last = 0;
};

}  // namespace

absl::StatusOr<std::shared_ptr<SnapshotSession>> SnapshotSession::Open(
    ChunkCache* cache, DatastoreRef datastore, const SnapshotName& snapshot,
    std::string_view archive, const SessionOptions& options) {
  if (cache == nullptr || datastore.upstream == nullptr) {
    return absl::InvalidArgumentError("a session needs a cache and an upstream");
  }
  const std::string where =
      absl::StrCat(datastore.name, ":", snapshot.ToString(), "/", ToAbsl(archive));
  if (absl::Status valid = ValidateArchiveName(archive); !valid.ok()) {
    return WithContext(valid, where);
  }
  absl::StatusOr<IndexKind> kind = IndexKindOfArchive(archive);
  if (!kind.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": only chunk indexes (.fidx, .didx) can be read through the cache"));
  }

  absl::StatusOr<std::string> manifest_blob =
      datastore.upstream->ReadSnapshotFile(snapshot, kManifestFileName);
  if (!manifest_blob.ok()) {
    return WithContext(manifest_blob.status(), absl::StrCat(where, ": reading the manifest"));
  }
  absl::StatusOr<Manifest> manifest = Manifest::FromBlob(*manifest_blob);
  if (!manifest.ok()) {
    return WithContext(manifest.status(), absl::StrCat(where, ": bad manifest"));
  }
  if (absl::Status keyed = manifest->VerifyKey(datastore.key.get()); !keyed.ok()) {
    return WithContext(keyed, where);
  }
  const ManifestFile* file = manifest->FindFile(archive);
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(where, ": the snapshot has no archive named ", ToAbsl(archive)));
  }
  if (file->crypt_mode == CryptMode::kEncrypt && datastore.key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": the archive is encrypted and datastore ", datastore.name,
                     " has no key configured; configure its key file"));
  }
  absl::StatusOr<std::string> index_bytes = datastore.upstream->ReadSnapshotFile(snapshot, archive);
  if (!index_bytes.ok()) {
    return WithContext(index_bytes.status(), absl::StrCat(where, ": reading the index"));
  }
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*index_bytes);
  if (!index.ok()) return WithContext(index.status(), absl::StrCat(where, ": bad index"));
  index_bytes->clear();
  if (index->kind() != *kind) {
    return absl::DataLossError(absl::StrCat(where, ": the index kind does not match the name"));
  }
  if (absl::Status checked = manifest->CheckIndex(archive, *index); !checked.ok()) {
    return WithContext(checked, where);
  }

  auto source = std::make_shared<const ChunkSource>(ChunkSource{datastore.name, datastore.upstream,
                                                                datastore.key, file->crypt_mode,
                                                                snapshot, std::string(archive)});
  std::shared_ptr<SnapshotSession> session(
      new SnapshotSession(cache, std::move(source), snapshot, std::string(archive),
                          *std::move(manifest), *std::move(index), options));
  session->PinHintedSet(
      internal::ChooseHintedSet(MostReferencedDigests(session->index_, options.hinted_chunks),
                                options.hinted_chunks, options.hinted_bytes_per_session));
  return session;
}

SnapshotSession::SnapshotSession(ChunkCache* cache, std::shared_ptr<const ChunkSource> source,
                                 SnapshotName snapshot, std::string archive, Manifest manifest,
                                 ChunkIndex index, const SessionOptions& options)
    : cache_(cache),
      source_(std::move(source)),
      snapshot_(std::move(snapshot)),
      archive_(std::move(archive)),
      manifest_(std::move(manifest)),
      index_(std::move(index)),
      options_(options),
      distinct_(index_, source_->chunk_key()),
      heap_bytes_(HeapBytes(index_, distinct_, cache->knows_streams())),
      readahead_(std::make_unique<internal::ReadaheadDetector>(options.readahead)),
      max_readahead_pin_bytes_(
          std::min(options.readahead.max_pinned_bytes, cache->options().capacity_bytes / 8)),
      reader_streams_(std::max<size_t>(options.readahead.streams, 1)),
      reader_stream_last_read_(reader_streams_.size(), 0) {
  cache_->SessionOpened();
}

SnapshotSession::~SnapshotSession() {
  ReleaseHints();
  cache_->SessionClosed();
}

void SnapshotSession::PinHintedSet(const std::vector<DigestCount>& chosen) {
  std::vector<DigestCount> hinted = chosen;
  const uint64_t wanted = internal::TotalSize(hinted);
  uint64_t granted = cache_->ReserveHintedBytes(wanted);
  if (granted < wanted) {
    // The cache-wide cap is reached: keep the hottest prefix that fits what was granted.
    hinted = internal::ChooseHintedSet(hinted, hinted.size(), granted);
    const uint64_t kept = internal::TotalSize(hinted);
    cache_->ReleaseHintedBytes(granted - kept);
    granted = kept;
  }
  hinted_bytes_granted_ = granted;
  hinted_chosen_ = hinted.size();
  // Each reference is a use to come, by a reader whose position is not known.
  for (const DigestCount& hot : chosen) {
    cache_->AddHintedUses(
        CacheKeyFor(hot.digest, source_->chunk_key()),
        static_cast<uint32_t>(std::min<size_t>(hot.count, std::numeric_limits<uint32_t>::max())));
  }
  std::weak_ptr<SnapshotSession> weak = weak_from_this();
  for (const DigestCount& hot : hinted) {
    ChunkLookup lookup = cache_->Lookup(
        MakeChunkRequest(source_, hot.digest, hot.size),
        [weak](absl::StatusOr<ChunkHandle> chunk) {
          if (std::shared_ptr<SnapshotSession> session = weak.lock()) {
            session->AdoptHint(std::move(chunk));
          }
        },
        FetchPriority::kPrefetch);
    if (lookup.ready()) AdoptHint(lookup.TakeResult());
  }
}

void SnapshotSession::AdoptHint(absl::StatusOr<ChunkHandle> chunk) {
  if (!chunk.ok()) {
    spdlog::warn("{}:{}/{}: hinted chunk not pinned: {}", source_->datastore, snapshot_.ToString(),
                 archive_, ToStd(chunk.status().message()));
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (hints_released_) return;  // the handle is released on return
  hinted_.emplace_back(*std::move(chunk));
}

void SnapshotSession::ReleaseHints() {
  std::vector<HintedChunk> released;
  std::vector<ReadaheadPin> unpinned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DropAllReadaheadPinsLocked(unpinned);
    CloseReaderStreamsLocked();
    if (hints_released_) return;
    hints_released_ = true;
    released.swap(hinted_);
  }
  released.clear();
  cache_->ReleaseHintedBytes(hinted_bytes_granted_);
}

void SnapshotSession::DropAllReadaheadPinsLocked(std::vector<ReadaheadPin>& unpinned) {
  for (ReadaheadPin& pin : readahead_pins_) unpinned.push_back(std::move(pin));
  readahead_pins_.clear();
  cache_->ReleaseReadaheadBytes(readahead_pinned_bytes_);
  readahead_pinned_bytes_ = 0;
}

size_t SnapshotSession::ReleaseIdleReadaheadPins(absl::Time now) {
  std::vector<ReadaheadPin> unpinned;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_read_ < options_.readahead.pin_idle_timeout) return 0;
    // Readers that stopped reading have no future the policy can count on.
    CloseReaderStreamsLocked();
    if (readahead_pins_.empty()) return 0;
    DropAllReadaheadPinsLocked(unpinned);
  }
  return unpinned.size();
}

size_t SnapshotSession::hinted_chunks_pinned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hinted_.size();
}

size_t SnapshotSession::readahead_chunks_pinned() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t pinned = 0;
  for (const ReadaheadPin& pin : readahead_pins_) pinned += pin.handle.empty() ? 0 : 1;
  return pinned;
}

size_t SnapshotSession::reader_streams_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return policy_streams_open_;
}

void SnapshotSession::CloseReaderStreamsLocked() {
  for (ReaderStream& reader : reader_streams_) ClosePolicyStreamLocked(reader);
  for (auto& [id, declared] : declared_readers_) ClosePolicyStreamLocked(declared.stream);
}

void SnapshotSession::ClosePolicyStreamLocked(ReaderStream& stream) {
  if (!stream.open()) return;
  stream.Close();
  --policy_streams_open_;
}

void SnapshotSession::OpenPolicyStreamLocked(ReaderStream& stream, size_t cursor, uint64_t end,
                                             StreamDirection direction) {
  if (stream.open() || hints_released_ || policy_streams_open_ >= options_.max_reader_streams) {
    return;
  }
  if (stream_order_ == nullptr) {
    auto order = std::make_shared<StreamOrder>();
    order->reserve(index_.chunk_count());
    const CryptConfig* key = source_->chunk_key();
    for (size_t entry = 0; entry < index_.chunk_count(); ++entry) {
      order->push_back(CacheKeyFor(index_.digest(entry), key));
    }
    stream_order_ = std::move(order);
  }
  stream = cache_->OpenStream(stream_order_, cursor, direction, end);
  if (stream.open()) ++policy_streams_open_;
}

RangeStream SnapshotSession::OpenRangeStream(uint64_t offset, uint64_t end) {
  const uint64_t size = index_.size();
  if (!cache_->knows_streams() || offset >= size || end <= offset) return RangeStream();
  const std::optional<ChunkLocation> first = index_.Locate(offset);
  const std::optional<ChunkLocation> last = index_.Locate(std::min(end, size) - 1);
  if (!first.has_value() || !last.has_value()) return RangeStream();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_declared_reader_++;
    declared_readers_.emplace(id, DeclaredReader{ReaderStream(), last->entry + 1});
  }
  return RangeStream(shared_from_this(), id);
}

bool SnapshotSession::FollowRangeStreamLocked(uint64_t id, size_t entry) {
  auto it = declared_readers_.find(id);
  if (it == declared_readers_.end()) return false;
  DeclaredReader& declared = it->second;
  if (declared.stream.open()) {
    declared.stream.MoveTo(entry);
  } else {
    // Its first read, or the first since an idle close or since the streams were all taken.
    OpenPolicyStreamLocked(declared.stream, entry, declared.end_entry, StreamDirection::kForward);
  }
  return declared.stream.open();
}

void SnapshotSession::CloseRangeStream(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = declared_readers_.find(id);
  if (it == declared_readers_.end()) return;
  ClosePolicyStreamLocked(it->second.stream);
  declared_readers_.erase(it);
}

RangeStream::RangeStream(RangeStream&& other) noexcept
    : session_(std::move(other.session_)), id_(other.id_) {}

RangeStream& RangeStream::operator=(RangeStream&& other) noexcept {
  if (this != &other) {
    Close();
    session_ = std::move(other.session_);
    id_ = other.id_;
  }
  return *this;
}

void RangeStream::Close() {
  if (session_ == nullptr) return;
  session_->CloseRangeStream(id_);
  session_.reset();
}

void SnapshotSession::FollowReaderLocked(const internal::ReadaheadPlan& plan, uint64_t read_tick,
                                         bool declared) {
  for (size_t slot = 0; slot < reader_streams_.size(); ++slot) {
    if (reader_streams_[slot].open() &&
        reader_stream_last_read_[slot] + options_.readahead.pin_max_reads < read_tick) {
      ClosePolicyStreamLocked(reader_streams_[slot]);
    }
  }
  if (plan.reader >= reader_streams_.size()) return;
  reader_stream_last_read_[plan.reader] = read_tick;
  ReaderStream& reader = reader_streams_[plan.reader];
  if (plan.reader_started) ClosePolicyStreamLocked(reader);  // the detector replaced it
  // A declared reader is registered by its range (never through the detector, so it has no
  // detector stream of its own); a detector stream it happens to continue is another reader's.
  if (!plan.reader_sequential || hints_released_ || declared) return;
  if (reader.open()) {
    reader.MoveTo(plan.reader_next_entry);
    return;
  }
  // A descending reader (a restore from the end) is a backward stream: what it passed, above
  // its cursor, is behind it, and what lies below is its future.
  OpenPolicyStreamLocked(
      reader, plan.reader_next_entry, std::numeric_limits<uint64_t>::max(),
      plan.reader_descending ? StreamDirection::kBackward : StreamDirection::kForward);
}

bool SnapshotSession::ContinuesRegisteredStreamLocked(std::optional<size_t> slot) const {
  return slot.has_value() && *slot < reader_streams_.size() && reader_streams_[*slot].open();
}

size_t SnapshotSession::readahead_window() const {
  std::lock_guard<std::mutex> lock(mu_);
  return readahead_->largest_window();
}

ChunkRequest SnapshotSession::RequestFor(size_t entry) const {
  return MakeChunkRequest(source_, index_.digest(entry), index_.range(entry).size());
}

RangeReadTicket SnapshotSession::ReadAsync(uint64_t offset, uint64_t length,
                                           RangeReadCallback on_done, uint64_t requester,
                                           const RangeStream* range_stream) {
  RangeReadTicket ticket;
  const uint64_t size = index_.size();
  if (length == 0) {
    ticket.result_.emplace(absl::InvalidArgumentError("read length must be at least 1 byte"));
    return ticket;
  }
  if (length > options_.max_read_bytes) {
    ticket.result_.emplace(absl::InvalidArgumentError(
        absl::StrCat("read length ", length, " exceeds the limit of ", options_.max_read_bytes,
                     " bytes per read; read in smaller pieces")));
    return ticket;
  }
  std::optional<ChunkLocation> start = index_.Locate(offset);
  if (offset >= size || !start.has_value()) {
    ticket.result_.emplace(absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " is at or past the end of ", archive_, " (", size, " bytes)")));
    return ticket;
  }
  const uint64_t end = length > size - offset ? size : offset + length;

  RangeRead shape;
  shape.offset = offset;
  shape.eof = end == size;
  std::vector<ChunkRequest> requests;
  std::vector<size_t> entry_of_lookup;  // its first entry in this read
  std::vector<std::vector<size_t>> slices_of_lookup;
  absl::flat_hash_map<ChunkDigest, size_t> lookup_of_key;
  size_t entry = start->entry;
  size_t last_entry = entry;
  for (uint64_t pos = offset; pos < end && entry < index_.chunk_count(); ++entry) {
    const ChunkRange range = index_.range(entry);
    if (range.end <= pos) continue;  // an empty entry
    const uint64_t length_here = std::min(range.end, end) - pos;
    ChunkRequest request = RequestFor(entry);
    request.requester = requester;
    auto [it, inserted] = lookup_of_key.try_emplace(request.cache_key, requests.size());
    if (inserted) {
      requests.push_back(std::move(request));
      entry_of_lookup.push_back(entry);
      slices_of_lookup.emplace_back();
    }
    slices_of_lookup[it->second].push_back(shape.slices.size());
    shape.slices.push_back(ChunkSlice{ChunkHandle(), pos - range.begin, length_here});
    pos += length_here;
    last_entry = entry;
  }

  const bool declared = range_stream != nullptr && range_stream->session_.get() == this;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A registered stream's reads are all its own (ChunkRequest::stream_read): the policy
    // knows when it will pass each chunk, so its reads are not reader uses.
    const internal::ReadaheadDetector::Continuation continues =
        readahead_->Continues(offset, end, start->entry, last_entry, requester);
    const bool registered =
        cache_->knows_streams() &&
        (declared ? FollowRangeStreamLocked(range_stream->id_, start->entry)
                  : ContinuesRegisteredStreamLocked(continues.sequential_slot));
    for (size_t i = 0; i < requests.size(); ++i) {
      requests[i].stream_read =
          registered || IsStreamReadLocked(continues.windowed_stream, entry_of_lookup[i]);
      requests[i].sequential_read = continues.sequential_reader;
    }
  }

  auto op = std::make_shared<internal::RangeReadOp>(std::move(shape), std::move(slices_of_lookup),
                                                    std::move(on_done));
  std::optional<absl::StatusOr<RangeRead>> outcome = op->Issue(*cache_, requests);
  Readahead(offset, end, start->entry, last_entry, requester, declared);
  if (outcome.has_value()) {
    ticket.result_ = std::move(outcome);
  } else {
    ticket.op_ = std::move(op);
  }
  return ticket;
}

bool SnapshotSession::IsStreamReadLocked(bool continues_stream, size_t entry) const {
  // A stream read is a read that continues one of the detector's sequential streams (asked
  // before this read's OnRead) of an entry its readahead pinned: still pinned (the first read
  // of it) or among the pins reads reached lately (the stream reading the rest of the chunk in
  // pieces). A pin is the session's own record that readahead fetched the chunk for a stream
  // that has not passed it yet, so this holds only for read-ahead chunks the stream consumes,
  // never for a chunk the stream merely finds cached; the detector's check keeps random reads
  // of the same session (a guest next to its live-restore) counting as uses.
  if (!continues_stream) return false;
  for (const ReadaheadPin& pin : readahead_pins_) {
    if (pin.entry == entry) return pin.fetched;
  }
  return std::find(stream_reached_.begin(), stream_reached_.end(), entry) != stream_reached_.end();
}

absl::StatusOr<RangeRead> SnapshotSession::Read(uint64_t offset, uint64_t length,
                                                absl::Time deadline) {
  using Slot = internal::ResultSlot<absl::StatusOr<RangeRead>>;
  auto slot = std::make_shared<Slot>();
  RangeReadTicket ticket = ReadAsync(
      offset, length, [slot](absl::StatusOr<RangeRead> read) { slot->Set(std::move(read)); });
  if (ticket.ready()) return ticket.TakeResult();
  if (!slot->WaitUntil(deadline)) {
    if (ticket.Cancel()) {
      return absl::DeadlineExceededError(
          absl::StrCat("read of ", length, " bytes at ", offset, " of ", archive_,
                       " not ready before the deadline; its chunk fetches continue"));
    }
    slot->Wait();  // the callback is running
  }
  return slot->Take();
}

void SnapshotSession::Readahead(uint64_t offset, uint64_t end, size_t first_entry,
                                size_t last_entry, uint64_t requester, bool declared) {
  internal::ReadaheadPlan plan;
  size_t window_before = 0;
  size_t window_after = 0;
  uint64_t read_tick = 0;
  std::vector<ReadaheadPin> unpinned;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    read_tick = ++reads_;
    last_read_ = absl::Now();
    window_before = readahead_->largest_window();
    plan =
        readahead_->OnRead(offset, end, first_entry, last_entry, index_.chunk_count(), requester);
    window_after = readahead_->largest_window();
    if (cache_->knows_streams()) FollowReaderLocked(plan, read_tick, declared);
    // This read pinned its own chunks already: the readahead pins of the entries it reached,
    // and those no read reached for too long, are done.
    auto reached = [&](const ReadaheadPin& pin) {
      return pin.entry >= first_entry && pin.entry <= last_entry;
    };
    auto done = [&](const ReadaheadPin& pin) {
      return reached(pin) || pin.requested_at_read + options_.readahead.pin_max_reads < read_tick;
    };
    if (!readahead_pins_.empty()) {
      std::vector<ReadaheadPin> kept;
      for (ReadaheadPin& pin : readahead_pins_) {
        if (reached(pin) && pin.fetched) {
          if (stream_reached_.size() < kStreamReachedMemory) {
            stream_reached_.push_back(pin.entry);
          } else {
            stream_reached_[stream_reached_next_] = pin.entry;
          }
          stream_reached_next_ = (stream_reached_next_ + 1) % kStreamReachedMemory;
        }
        if (done(pin)) {
          readahead_pinned_bytes_ -= pin.bytes;
          cache_->ReleaseReadaheadBytes(pin.bytes);
          unpinned.push_back(std::move(pin));
        } else {
          kept.push_back(std::move(pin));
        }
      }
      readahead_pins_.swap(kept);
    }
  }
  if (window_after != window_before) {
    spdlog::debug("event=readahead_window datastore={} archive={} offset={} window_chunks={}",
                  source_->datastore, archive_, offset, window_after);
  }
  if (plan.count == 0) return;
  std::weak_ptr<SnapshotSession> weak = weak_from_this();
  for (size_t entry = plan.first; entry < plan.first + plan.count; ++entry) {
    const uint64_t bytes = index_.range(entry).size();
    if (bytes == 0) continue;  // an empty entry: nothing to fetch
    const bool cached = cache_->Contains(RequestFor(entry).cache_key);
    bool pin = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Within the session's cap and the cache-wide budget, which every session shares: many
      // paused readers cannot pin the whole cache between them.
      if (!hints_released_ && readahead_pinned_bytes_ + bytes <= max_readahead_pin_bytes_ &&
          cache_->TryReserveReadaheadBytes(bytes)) {
        readahead_pins_.push_back(ReadaheadPin{entry, bytes, read_tick, ChunkHandle(), !cached});
        readahead_pinned_bytes_ += bytes;
        pin = true;
      }
    }
    if (!pin && max_readahead_pin_bytes_ > 0) {
      // A pin budget is spent: in a full cache an unpinned prefetch is the policy's first
      // victim and would be evicted before its reader arrives. Plan the rest again later.
      std::lock_guard<std::mutex> lock(mu_);
      readahead_->Unrequested(plan, entry);
      break;
    }
    if (!pin) {
      if (cache_->Prefetch(RequestFor(entry)) == PrefetchOutcome::kRequested) {
        readahead_requested_.fetch_add(1, std::memory_order_relaxed);
      }
      continue;
    }
    ChunkLookup lookup = cache_->Lookup(
        RequestFor(entry),
        [weak, entry, read_tick](absl::StatusOr<ChunkHandle> chunk) {
          if (std::shared_ptr<SnapshotSession> session = weak.lock()) {
            session->AdoptReadahead(entry, read_tick, std::move(chunk));
          }
        },
        FetchPriority::kPrefetch);
    if (!cached && !lookup.ready()) readahead_requested_.fetch_add(1, std::memory_order_relaxed);
    if (lookup.ready()) AdoptReadahead(entry, read_tick, lookup.TakeResult());
  }
}

void SnapshotSession::AdoptReadahead(size_t entry, uint64_t read_tick,
                                     absl::StatusOr<ChunkHandle> chunk) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = readahead_pins_.begin(); it != readahead_pins_.end(); ++it) {
    if (it->entry != entry || it->requested_at_read != read_tick || !it->handle.empty()) {
      continue;
    }
    if (chunk.ok()) {
      it->handle = *std::move(chunk);
    } else {
      readahead_pinned_bytes_ -= it->bytes;  // not fetched (queue full, upstream error)
      cache_->ReleaseReadaheadBytes(it->bytes);
      readahead_pins_.erase(it);
    }
    return;
  }
  // The pin is gone (a read reached the entry first, or the session closed): `chunk`'s
  // handle is released on return, after the lock.
}

absl::StatusOr<PrefetchCounts> SnapshotSession::Prefetch(absl::Span<const ByteRange> ranges) {
  if (ranges.size() > options_.max_prefetch_ranges) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefetch names ", ranges.size(), " ranges; at most ",
                     options_.max_prefetch_ranges, " per call: merge adjacent ranges"));
  }
  const uint64_t size = index_.size();
  std::vector<EntryRun> runs;
  runs.reserve(ranges.size());
  for (const ByteRange& range : ranges) {
    if (range.length == 0) {
      return absl::InvalidArgumentError("prefetch range length must be at least 1 byte");
    }
    std::optional<ChunkLocation> first = index_.Locate(range.offset);
    if (range.offset >= size || !first.has_value()) {
      return absl::OutOfRangeError(absl::StrCat("prefetch offset ", range.offset,
                                                " is at or past the end of ", archive_, " (", size,
                                                " bytes)"));
    }
    // Cut at the end of the archive without computing offset + length, which may overflow.
    const uint64_t last_byte =
        range.length > size - range.offset ? size - 1 : range.offset + range.length - 1;
    runs.push_back(EntryRun{first->entry, index_.Locate(last_byte)->entry});
  }
  // Sorted and merged, the runs are disjoint: each entry is walked at most once, and what is
  // left when the walk stops is a plain sum.
  std::sort(runs.begin(), runs.end(),
            [](const EntryRun& a, const EntryRun& b) { return a.first < b.first; });
  std::vector<EntryRun> merged;
  for (const EntryRun& run : runs) {
    if (!merged.empty() && run.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, run.last);
    } else {
      merged.push_back(run);
    }
  }

  PrefetchCounts counts;
  absl::flat_hash_set<ChunkDigest> seen;  // at most max_prefetch_chunks keys
  size_t considered = 0;
  bool queue_full = false;
  for (size_t r = 0; r < merged.size(); ++r) {
    for (size_t entry = merged[r].first; entry <= merged[r].last; ++entry) {
      if (queue_full || considered == options_.max_prefetch_chunks) {
        // Stop walking: the queue would drop everything else, or this call has done its share.
        counts.chunks_dropped += merged[r].last - entry + 1;
        for (size_t rest = r + 1; rest < merged.size(); ++rest) {
          counts.chunks_dropped += merged[rest].last - merged[rest].first + 1;
        }
        return counts;
      }
      ++considered;
      if (index_.range(entry).size() == 0) continue;  // an empty entry: nothing to fetch
      ChunkRequest request = RequestFor(entry);
      if (!seen.insert(request.cache_key).second) continue;
      // A reader announced it: one use to come, at a time the policy does not know.
      cache_->AddHintedUses(request.cache_key, 1);
      switch (cache_->Prefetch(request)) {
        case PrefetchOutcome::kCached:
          ++counts.chunks_already_cached;
          break;
        case PrefetchOutcome::kInFlight:
        case PrefetchOutcome::kRequested:
          ++counts.chunks_requested;
          break;
        case PrefetchOutcome::kDropped:
          ++counts.chunks_dropped;
          queue_full = true;
          break;
      }
    }
  }
  return counts;
}

SnapshotStats SnapshotSession::Stats() const {
  SnapshotStats stats;
  stats.size = index_.size();
  stats.chunk_size = index_.chunk_size();
  stats.chunk_count = index_.chunk_count();
  stats.distinct_chunks = distinct_.count();
  stats.crypt_mode = std::string(CryptModeName(source_->crypt_mode));
  stats.hinted_chunks = hinted_chosen_;
  stats.index_csum = index_.index_csum().Hex();
  stats.cached_bytes = distinct_.CachedBytes(index_, *cache_);
  return stats;
}

}  // namespace chunkcache
