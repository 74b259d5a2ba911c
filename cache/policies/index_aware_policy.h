// IndexAwarePolicy: Belady's rule where the future is known, the default policy where not.
//
// The cache (or the simulator) feeds it StreamKnowledge (cache/stream_knowledge.h): the
// registered streams with their index order, cursor, direction and speed, the positions they
// will skip, and hinted uses. Every tracked key is then in one of three classes, and
// PickVictim takes the first evictable key of the first non-empty class (but see 2):
//   1. dead: an open stream's index (within the stream's declared range, if it declared one)
//      or a hint names it, but every stream is past it (or will skip it) and no hinted use is
//      left. Among dead keys the wrapped policy chooses.
//   2. unknown future: nothing names it, or only hints with uses left (a hinted use has no
//      known time). The wrapped policy (the default one) chooses, exactly as it would alone.
//      When class 3 is not empty, its furthest key goes instead unless the wrapped policy's
//      choice (among the first kCandidateWalk keys in its order) has a guessed next
//      use at least as far: reader_reuse_factor times the time since a reader last used it
//      (never used: infinitely far). So a guest's hot chunks, which nothing names, are not
//      flushed by a restore's chunks that are seconds away. (Reader uses are recorded only
//      while streams are open, so that without streams a hit costs nothing more. A key cached
//      before the streams opened counts as used when they opened: a guest may have used it just
//      before, and back-to-back restores leave moments, or long pauses, with no stream open.)
//   3. known next use: the earliest time an open stream reaches it, (distance in positions)
//      / (stream speed). The key whose next use is furthest goes first (Belady); ties go to
//      the smaller digest, so runs are reproducible.
// Interval caching falls out of class 3: with a leading and a trailing reader of one archive,
// the chunks between them are used again when the trailing reader arrives, sooner than the
// chunks the leader fetches next, so the leader's fresh chunks leave first when the interval
// does not fit, and the interval is kept when it does.
//
// The wrapped policy sees every call (it tracks every key, and keys evicted by classes 1 and
// 3 are OnErase'd from it), so with no streams and no hints this policy is the wrapped one:
// same victims, same cost plus one empty-map test per OnAccess and PickVictim. With streams,
// the hit path (OnAccess) adds one hash lookup (the key's last reader use, kept only for keys
// that streams or hints name) and a hint-count lookup when hints exist; the knowledge is
// consulted on the miss path, in PickVictim: classes 1 and 2 walk the wrapped policy's order
// and classify only the keys they pass (in a stream's wake the oldest keys are the dead ones,
// so the walk usually stops at once), at most kClassWalk and kCandidateWalk of them. A dead key
// further back than kClassWalk is not missed: when the walk finds none, class 1 looks at the
// dead candidates (keys whose last hinted use went, that entered the cache dead, that a backward
// stream passed, or that were pinned when last looked at; queued, O(1) each) and then at the
// positions each forward stream passed since they were last looked at (a range per stream, so a
// move costs nothing; a closing stream's range passes to the other streams of its order), each
// key examined once per time it is passed, at most kClassWalk per victim. A stream may
// declare its range (SetStreamRange, a StreamRange call): it names only the positions in it.
// Class 3 does not scan the cache when every open stream reads forward and skips nothing (the
// live cache's streams): each order keeps the positions of its tracked keys ordered, and its
// streams' remaining ranges [cursor, end) cut it into segments between consecutive bounds, in
// each of which the same streams read every position, so that the next use grows with the
// position and the segment's last key is its furthest (the first evictable one walking back
// from the segment's end, at most kCandidateWalk of them, past keys that a recent reader use
// ranks nearer); the candidates are ranked by their exact next use. O(open streams x (log keys +
// walk)) per victim. With skipped positions (the simulator's qemu model) or a backward stream
// (that model, or a live reader that reads downwards) it scans the tracked keys that streams
// name, at most kClassWalk of them per victim, the next victim going on where the last scan
// stopped: O(kClassWalk x open streams x log positions per key), exact Belady while at most
// kClassWalk keys are named (the simulator's caches), a rotating window of them beyond.
//
//   auto policy = std::make_unique<IndexAwarePolicy>(MakeEvictionPolicy("switch", cap).value());
//   policy->stream_knowledge()->OpenStream(1, order, 0, StreamDirection::kForward, 1.0);
#ifndef CHUNKCACHE_CACHE_POLICIES_INDEX_AWARE_POLICY_H_
#define CHUNKCACHE_CACHE_POLICIES_INDEX_AWARE_POLICY_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/policies/keyed_queue.h"
#include "cache/stream_knowledge.h"

namespace chunkcache {

class IndexAwarePolicy final : public EvictionPolicy, private StreamKnowledge {
 public:
  // `unknown_future_policy` decides among dead keys and among keys with an unknown future.
  explicit IndexAwarePolicy(std::unique_ptr<EvictionPolicy> unknown_future_policy,
                            double reader_reuse_factor = kDefaultReaderReuseFactor);

  // The age of a random reader's least recently used chunk is about ln(its chunks) times its
  // reuse interval (5x for 160 chunks), so the age overstates when that chunk is used next;
  // on the qemu live-restore model 0.2 fetches at most 14 chunks (0.17 %) more than 1
  // (bench/RESULTS.md, "Index-aware caching", (c)).
  static constexpr double kDefaultReaderReuseFactor = 0.2;

  std::string_view name() const override { return "index"; }
  void OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) override;
  void OnAccess(const ChunkDigest& key) override;
  void OnStreamAccess(const ChunkDigest& key) override;
  bool AccessIfTracked(const ChunkDigest& key) override;
  void OnErase(const ChunkDigest& key) override;
  void OnMiss(const ChunkDigest& key) override { inner_->OnMiss(key); }
  std::optional<ChunkDigest> PickVictim(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) override;
  size_t tracked() const override { return inner_->tracked(); }
  bool Tracks(const ChunkDigest& key) const override { return inner_->Tracks(key); }
  uint64_t tracked_bytes() const override { return inner_->tracked_bytes(); }
  StreamKnowledge* stream_knowledge() override { return this; }

  // The time until `key`'s next known use; nullopt when it has none (dead or unknown).
  std::optional<double> NextKnownUse(const ChunkDigest& key) const;
  // Named by an open stream or a hint, with no stream ahead of it and no hinted use left.
  bool IsDead(const ChunkDigest& key) const;

 private:
  // Each distinct order's positions by digest, ascending; shared by the streams of an order.
  struct PositionIndex {
    std::shared_ptr<const StreamOrder> order;
    absl::flat_hash_map<ChunkDigest, std::vector<uint64_t>> positions;
    // The positions of the keys the wrapped policy tracks (class 3's ordered structure). Up to
    // every position of the order (a cached chunk that repeats puts all its positions here), so
    // the open-index budget charges it per position at its largest (StreamOrderHeapBytes).
    absl::btree_set<uint64_t> tracked_positions;
    size_t streams = 0;
  };
  struct Stream {
    PositionIndex* index = nullptr;
    uint64_t cursor = 0;
    StreamDirection direction = StreamDirection::kForward;
    double speed = 1;
    absl::flat_hash_set<uint64_t> skipped;
    // The positions it reads (SetStreamRange): a forward stream's declared range.
    uint64_t begin = 0;
    uint64_t end = std::numeric_limits<uint64_t>::max();
    // A forward stream's passed positions [unchecked_from, cursor) have not been looked at for
    // dead keys yet (PickDeadCandidate): moving costs nothing, the check comes when needed.
    uint64_t unchecked_from = 0;
  };
  enum class Future { kUnknown, kDead, kKnown };

  // StreamKnowledge.
  void OpenStream(StreamId id, std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                  StreamDirection direction, double speed) override;
  void MoveStream(StreamId id, uint64_t cursor) override;
  void SetStreamSpeed(StreamId id, double speed) override;
  void SetStreamRange(StreamId id, uint64_t begin, uint64_t end) override;
  void SkipPosition(StreamId id, uint64_t position) override;
  void CloseStream(StreamId id) override;
  void AddHintedUses(const ChunkDigest& key, uint32_t uses) override;
  void SetTime(double now) override { now_ = now; }

  // How many keys class 3 passes over at most, walking back from a segment's end, before it
  // gives up on the segment (they are pinned: a readahead window, reads in progress).
  static constexpr size_t kCandidateWalk = 256;
  // How many keys of the wrapped policy's order the search for a dead key looks at, at most.
  static constexpr size_t kClassWalk = 1024;

  bool Named(const ChunkDigest& key) const;
  // Queues the tracked keys at `index`'s positions [first, last) as dead candidates.
  void NoteDeadCandidates(const PositionIndex& index, uint64_t first, uint64_t last);
  void NoteDeadCandidate(const ChunkDigest& key);
  // The first evictable dead key among the dead candidates (dropping those that are not dead),
  // then among the positions forward streams passed since they were last looked at.
  std::optional<ChunkDigest> PickDeadCandidate(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable);
  // `key` left the cache: drops what this policy keeps about it (its hinted uses too).
  void Forget(const ChunkDigest& key);
  // Adds (or removes) `key`'s positions to (from) the tracked positions of every order.
  void TrackPositions(const ChunkDigest& key, bool tracked);
  // Class 3 by segments (see above); nullopt when it does not apply or finds no candidate.
  std::optional<ChunkDigest> FurthestBySegments(
      absl::FunctionRef<bool(const ChunkDigest&)> evictable) const;
  // The next use of a key nothing names, guessed from its last reader use (infinite without
  // one): reader_reuse_factor times the time since.
  double UnknownNextUse(const ChunkDigest& key) const;
  // Records a reader's use of `key` for UnknownNextUse (only while streams are open).
  void NoteAnyReaderUse(const ChunkDigest& key);
  // A known next use `distance` away as class 3 ranks it: capped by the time since the key's
  // last reader use (`reader_use`, or kNoReaderUse).
  double RankedDistance(double distance, double reader_use) const;
  Future Classify(const ChunkDigest& key, double* distance) const;
  void NoteReaderUse(const ChunkDigest& key);
  void ConsumeHintedUse(const ChunkDigest& key);

  static constexpr double kNoReaderUse = -1;
  static constexpr double kNeverUsedByReader = -std::numeric_limits<double>::infinity();

  std::unique_ptr<EvictionPolicy> inner_;
  const double reader_reuse_factor_;
  double now_ = 0;
  absl::flat_hash_map<const StreamOrder*, std::unique_ptr<PositionIndex>> indexes_;
  absl::flat_hash_map<StreamId, Stream> streams_;
  // Hinted uses left per key; 0 = all consumed (the key stays named, so it can be dead).
  absl::flat_hash_map<ChunkDigest, uint32_t> hinted_uses_;
  // Tracked keys that an open stream or a hint names (the only ones PickVictim classifies),
  // with the time of their last use by a reader that is not a stream, or kNoReaderUse.
  absl::flat_hash_map<ChunkDigest, double> named_tracked_;
  // While streams are open: the time of every tracked key's last reader use (a demand insert
  // or a hit that is not a stream's), or kNeverUsedByReader for a key that entered since
  // without one, for the keys nothing names (UnknownNextUse). Keys without an entry were cached
  // before reader_uses_since_, when the streams (all closed before) opened.
  absl::flat_hash_map<ChunkDigest, double> reader_uses_;
  double reader_uses_since_ = 0;
  // Tracked keys that may have died since they were queued, oldest first: the keys a backward
  // stream passed, that a closed stream no longer reads, whose last hinted use went, that
  // entered the cache dead, or that were dead but pinned when looked at. (What forward streams
  // pass is kept as a range per stream, Stream::unchecked_from.) Class 1 takes its victim from here
  // when its walk of the wrapped policy's order finds none, so a dead key is found however far back
  // that order has it; a queued key that is not dead when looked at leaves the queue (a stream
  // passing it again queues it again). At most one entry per tracked key.
  KeyedQueue<NoMeta> dead_candidates_;
  // Where class 3's scan (a backward stream, skipped positions) goes on at the next victim when
  // there are more named keys than one scan looks at: successive victims look at successive
  // parts of named_tracked_, so a reader that makes the segments inapplicable (a backward one)
  // costs each miss at most kClassWalk classifications, and every key is looked at in turn.
  std::optional<ChunkDigest> scan_resume_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_INDEX_AWARE_POLICY_H_
