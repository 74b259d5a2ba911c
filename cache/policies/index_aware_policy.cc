#include "cache/policies/index_aware_policy.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

namespace chunkcache {

IndexAwarePolicy::IndexAwarePolicy(std::unique_ptr<EvictionPolicy> unknown_future_policy,
                                   double reader_reuse_factor)
    : inner_(std::move(unknown_future_policy)), reader_reuse_factor_(reader_reuse_factor) {}

void IndexAwarePolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) {
  inner_->OnInsert(key, charge, kind);
  if (kind == InsertKind::kDemand) {
    NoteAnyReaderUse(key);
  } else if (!streams_.empty()) {
    reader_uses_[key] = kNeverUsedByReader;  // entered while uses are recorded: none yet
  }
  if (Named(key)) {
    named_tracked_[key] = kind == InsertKind::kDemand ? now_ : kNoReaderUse;
    TrackPositions(key, true);
    // A key read behind every stream (a guest's read of a copied region) enters dead, at the
    // newest end of the wrapped policy's order, where class 1's walk does not look first.
    double distance = 0;
    if (Classify(key, &distance) == Future::kDead) NoteDeadCandidate(key);
  }
}

void IndexAwarePolicy::NoteDeadCandidate(const ChunkDigest& key) {
  if (dead_candidates_.Find(key) == nullptr) dead_candidates_.PushFront(key, 0);
}

void IndexAwarePolicy::NoteDeadCandidates(const PositionIndex& index, uint64_t first,
                                          uint64_t last) {
  for (auto it = index.tracked_positions.lower_bound(first);
       it != index.tracked_positions.end() && *it < last; ++it) {
    const ChunkDigest& key = (*index.order)[*it];
    if (named_tracked_.contains(key)) NoteDeadCandidate(key);
  }
}

std::optional<ChunkDigest> IndexAwarePolicy::PickDeadCandidate(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  size_t walked = 0;
  for (auto it = dead_candidates_.Oldest(); it != dead_candidates_.end() && walked < kClassWalk;
       ++walked) {
    const ChunkDigest key = it->key;
    auto next = dead_candidates_.Newer(it);
    double distance = 0;
    if (!named_tracked_.contains(key) || Classify(key, &distance) != Future::kDead) {
      dead_candidates_.Erase(it);  // alive again (or unknown): a stream queues it when it passes
    } else if (evictable(key)) {
      return key;
    }
    it = next;
  }
  // The positions forward streams passed, streams in id order (reproducible).
  std::vector<StreamId> ids;
  for (const auto& [id, stream] : streams_) {
    if (stream.direction == StreamDirection::kForward) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (StreamId id : ids) {
    Stream& stream = streams_.at(id);
    const PositionIndex& index = *stream.index;
    const uint64_t last = std::min(stream.cursor, stream.end);
    auto it = index.tracked_positions.lower_bound(std::max(stream.unchecked_from, stream.begin));
    for (; it != index.tracked_positions.end() && *it < last && walked < kClassWalk;
         ++it, ++walked) {
      const ChunkDigest& key = (*index.order)[*it];
      double distance = 0;
      if (!named_tracked_.contains(key) || Classify(key, &distance) != Future::kDead) continue;
      if (evictable(key)) {
        stream.unchecked_from = *it;  // the victim leaves the tracked positions
        return key;
      }
      NoteDeadCandidate(key);  // pinned now: looked at again from the queue
    }
    stream.unchecked_from = it == index.tracked_positions.end() || *it >= last ? last : *it;
  }
  return std::nullopt;
}

void IndexAwarePolicy::TrackPositions(const ChunkDigest& key, bool tracked) {
  for (const auto& [order, index] : indexes_) {
    auto found = index->positions.find(key);
    if (found == index->positions.end()) continue;
    for (uint64_t position : found->second) {
      if (tracked) {
        index->tracked_positions.insert(position);
      } else {
        index->tracked_positions.erase(position);
      }
    }
  }
}

void IndexAwarePolicy::OnAccess(const ChunkDigest& key) {
  inner_->OnAccess(key);
  NoteAnyReaderUse(key);
  NoteReaderUse(key);
  ConsumeHintedUse(key);
}

void IndexAwarePolicy::OnStreamAccess(const ChunkDigest& key) {
  inner_->OnStreamAccess(key);
  ConsumeHintedUse(key);  // a stream reading a prefetched range uses it up as well
}

bool IndexAwarePolicy::AccessIfTracked(const ChunkDigest& key) {
  if (!inner_->AccessIfTracked(key)) return false;
  NoteAnyReaderUse(key);
  NoteReaderUse(key);
  ConsumeHintedUse(key);
  return true;
}

void IndexAwarePolicy::NoteReaderUse(const ChunkDigest& key) {
  if (named_tracked_.empty()) return;
  if (auto it = named_tracked_.find(key); it != named_tracked_.end()) it->second = now_;
}

void IndexAwarePolicy::ConsumeHintedUse(const ChunkDigest& key) {
  if (hinted_uses_.empty()) return;
  auto it = hinted_uses_.find(key);
  if (it != hinted_uses_.end() && it->second > 0 && --it->second == 0 &&
      named_tracked_.contains(key)) {
    NoteDeadCandidate(key);
  }
}

void IndexAwarePolicy::OnErase(const ChunkDigest& key) {
  inner_->OnErase(key);
  Forget(key);
}

void IndexAwarePolicy::Forget(const ChunkDigest& key) {
  if (named_tracked_.erase(key) > 0) TrackPositions(key, false);
  // Hinted uses are about the cached copy: a long-running cache must not keep a record of
  // every chunk ever hinted or prefetched.
  if (!hinted_uses_.empty()) hinted_uses_.erase(key);
  if (!reader_uses_.empty()) reader_uses_.erase(key);
  if (!dead_candidates_.empty()) dead_candidates_.Erase(key);
}

bool IndexAwarePolicy::Named(const ChunkDigest& key) const {
  if (hinted_uses_.contains(key)) return true;
  for (const auto& [order, index] : indexes_) {
    if (index->positions.contains(key)) return true;
  }
  return false;
}

IndexAwarePolicy::Future IndexAwarePolicy::Classify(const ChunkDigest& key,
                                                    double* distance) const {
  bool named = false;
  bool known = false;
  for (const auto& [id, stream] : streams_) {
    auto found = stream.index->positions.find(key);
    if (found == stream.index->positions.end()) continue;
    const std::vector<uint64_t>& positions = found->second;
    std::optional<uint64_t> ahead;
    if (stream.direction == StreamDirection::kForward) {
      // Only the stream's range names the key for it.
      auto first = std::lower_bound(positions.begin(), positions.end(), stream.begin);
      if (first == positions.end() || *first >= stream.end) continue;
      named = true;
      for (auto it = std::lower_bound(first, positions.end(), stream.cursor);
           it != positions.end() && *it < stream.end; ++it) {
        if (!stream.skipped.contains(*it)) {
          ahead = *it - stream.cursor;
          break;
        }
      }
    } else {
      named = true;
      for (auto it = std::upper_bound(positions.begin(), positions.end(), stream.cursor);
           it != positions.begin();) {
        --it;
        if (!stream.skipped.contains(*it)) {
          ahead = stream.cursor - *it;
          break;
        }
      }
    }
    if (!ahead) continue;
    const double time = static_cast<double>(*ahead) / stream.speed;
    if (!known || time < *distance) *distance = time;
    known = true;
  }
  if (known) return Future::kKnown;
  auto hinted = hinted_uses_.find(key);
  if (hinted != hinted_uses_.end()) return hinted->second > 0 ? Future::kUnknown : Future::kDead;
  return named ? Future::kDead : Future::kUnknown;
}

std::optional<double> IndexAwarePolicy::NextKnownUse(const ChunkDigest& key) const {
  double distance = 0;
  if (Classify(key, &distance) != Future::kKnown) return std::nullopt;
  return distance;
}

bool IndexAwarePolicy::IsDead(const ChunkDigest& key) const {
  double distance = 0;
  return Classify(key, &distance) == Future::kDead;
}

std::optional<ChunkDigest> IndexAwarePolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  if (named_tracked_.empty()) return inner_->PickVictim(evictable);
  auto future_of = [&](const ChunkDigest& key) {
    double distance = 0;
    return named_tracked_.contains(key) ? Classify(key, &distance) : Future::kUnknown;
  };
  // Class 1 in the wrapped policy's order, classifying only the keys it reaches: in a
  // stream's wake the oldest entries are the dead ones, so this usually stops at once. (At most
  // kClassWalk keys are looked at: with no dead key near the front, the rest of the wrapped
  // policy's order is passed over without classifying it.)
  size_t walked = 0;
  std::optional<ChunkDigest> victim = inner_->PickVictim([&](const ChunkDigest& key) {
    if (walked == kClassWalk) return false;
    ++walked;
    return evictable(key) && future_of(key) == Future::kDead;
  });
  if (!victim) {
    victim = PickDeadCandidate(evictable);
    if (victim) inner_->OnErase(*victim);
  }
  if (victim) {
    Forget(*victim);
    return victim;
  }
  // Class 3's candidate: the evictable key whose known next use is furthest.
  double furthest_distance = 0;
  std::optional<ChunkDigest> furthest = FurthestBySegments(evictable);
  if (furthest) {
    double distance = 0;
    Classify(*furthest, &distance);
    auto named = named_tracked_.find(*furthest);
    furthest_distance =
        RankedDistance(distance, named != named_tracked_.end() ? named->second : kNoReaderUse);
  } else {  // segments do not apply (or found nothing): scan, at most kClassWalk keys
    const bool bounded = named_tracked_.size() > kClassWalk;
    auto next = named_tracked_.begin();
    if (bounded && scan_resume_) {
      if (auto found = named_tracked_.find(*scan_resume_); found != named_tracked_.end()) {
        next = found;
      }
    }
    for (size_t scanned = 0; scanned < std::min(named_tracked_.size(), kClassWalk); ++scanned) {
      if (next == named_tracked_.end()) next = named_tracked_.begin();
      const auto& [key, reader_use] = *next++;
      double distance = 0;
      if (!evictable(key) || Classify(key, &distance) != Future::kKnown) continue;
      distance = RankedDistance(distance, reader_use);
      if (!furthest || distance > furthest_distance ||
          (distance == furthest_distance && key.bytes < furthest->bytes)) {
        furthest = key;
        furthest_distance = distance;
      }
    }
    scan_resume_.reset();
    if (bounded && next != named_tracked_.end()) scan_resume_ = next->first;
  }
  // Class 2, the keys nothing names, in the wrapped policy's order. Next to a known use, an
  // unknown key goes first only if its readers' recency does not promise a sooner use (a
  // guest's hot chunks outlast a restore's chunks that are seconds away); a few of them are
  // looked at, not the whole cache.
  size_t examined = 0;
  victim = inner_->PickVictim([&](const ChunkDigest& key) {
    if (furthest) {
      if (examined == kCandidateWalk) return false;
      ++examined;
    }
    if (!evictable(key) || future_of(key) != Future::kUnknown) return false;
    return !furthest || UnknownNextUse(key) >= furthest_distance;
  });
  if (!victim && furthest) {
    victim = furthest;
    inner_->OnErase(*victim);
  }
  if (victim) Forget(*victim);
  return victim;
}

double IndexAwarePolicy::UnknownNextUse(const ChunkDigest& key) const {
  auto used = reader_uses_.find(key);
  // No entry: the key was cached before the streams opened, when uses were not recorded, and a
  // reader may have used it just before (a guest's hot chunk when a restore starts).
  const double last_use = used == reader_uses_.end() ? reader_uses_since_ : used->second;
  return reader_reuse_factor_ * (now_ - last_use);  // kNeverUsedByReader: infinitely far
}

void IndexAwarePolicy::NoteAnyReaderUse(const ChunkDigest& key) {
  if (!streams_.empty()) reader_uses_[key] = now_;
}

double IndexAwarePolicy::RankedDistance(double distance, double reader_use) const {
  if (reader_use == kNoReaderUse) return distance;
  return std::min(distance, reader_reuse_factor_ * (now_ - reader_use));
}

std::optional<ChunkDigest> IndexAwarePolicy::FurthestBySegments(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) const {
  // Each order's streams as the positions [cursor, end) they have still to read, as bounds:
  // (position, +1) where one starts, (position, -1) where one ends.
  absl::flat_hash_map<const PositionIndex*, std::vector<std::pair<uint64_t, int>>> bounds;
  for (const auto& [id, stream] : streams_) {
    if (stream.direction != StreamDirection::kForward || !stream.skipped.empty()) {
      return std::nullopt;
    }
    const uint64_t first = std::max(stream.cursor, stream.begin);
    const uint64_t last = std::min<uint64_t>(stream.end, stream.index->order->size());
    if (first >= last) continue;
    std::vector<std::pair<uint64_t, int>>& of_order = bounds[stream.index];
    of_order.emplace_back(first, 1);
    of_order.emplace_back(last, -1);
  }
  std::optional<ChunkDigest> victim;
  double furthest_distance = 0;
  for (auto& [index, of_order] : bounds) {
    std::sort(of_order.begin(), of_order.end());
    const StreamOrder& order = *index->order;
    int covering = 0;
    for (size_t b = 0; b + 1 < of_order.size(); ++b) {
      covering += of_order[b].second;
      // Segment [start, end) between two consecutive bounds: the same streams will read all of
      // it, so the next use of its keys grows with their position for each of them, and the
      // last key is the segment's furthest. A segment no stream covers holds no known use.
      const uint64_t start = of_order[b].first;
      const uint64_t end = of_order[b + 1].first;
      if (covering == 0 || start >= end) continue;
      auto it = index->tracked_positions.lower_bound(end);
      size_t walked = 0;
      while (it != index->tracked_positions.begin() && walked < kCandidateWalk) {
        --it;
        if (*it < start) break;
        ++walked;
        const ChunkDigest& key = order[*it];
        auto named = named_tracked_.find(key);
        if (named == named_tracked_.end() || !evictable(key)) continue;
        double distance = 0;
        if (Classify(key, &distance) != Future::kKnown) continue;
        const double ranked = RankedDistance(distance, named->second);
        if (!victim || ranked > furthest_distance ||
            (ranked == furthest_distance && key.bytes < victim->bytes)) {
          victim = key;
          furthest_distance = ranked;
        }
        // Keys further back in the segment are nearer the stream; only a recent reader use
        // (which ranks a key nearer still) lets the walk go on past this one.
        if (ranked >= distance) break;
      }
    }
  }
  return victim;
}

void IndexAwarePolicy::OpenStream(StreamId id, std::shared_ptr<const StreamOrder> order,
                                  uint64_t cursor, StreamDirection direction, double speed) {
  if (order == nullptr || streams_.contains(id)) return;
  std::unique_ptr<PositionIndex>& index = indexes_[order.get()];
  if (index == nullptr) {
    index = std::make_unique<PositionIndex>();
    index->order = order;
    for (uint64_t position = 0; position < order->size(); ++position) {
      index->positions[(*order)[position]].push_back(position);
    }
    for (const auto& [key, positions] : index->positions) {
      if (!inner_->Tracks(key)) continue;
      named_tracked_.try_emplace(key, kNoReaderUse);
      index->tracked_positions.insert(positions.begin(), positions.end());
    }
  }
  ++index->streams;
  if (streams_.empty()) reader_uses_since_ = now_;
  Stream& stream = streams_[id];
  stream = Stream{index.get(), cursor, direction, speed > 0 ? speed : 1, {}};
  // A stream opening part-way through its order may leave keys behind every stream: a forward
  // stream's passed positions start at 0 (unchecked_from); a backward stream's, above its
  // cursor, are queued (once per open, at most the cache's entries).
  if (direction == StreamDirection::kBackward) {
    NoteDeadCandidates(*index, cursor + 1, std::numeric_limits<uint64_t>::max());
  }
}

void IndexAwarePolicy::MoveStream(StreamId id, uint64_t cursor) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& stream = it->second;
  // The keys it passed may be dead now: a forward stream's stay in its unchecked range (no cost
  // per move), a backward stream's are queued.
  if (stream.direction == StreamDirection::kForward) {
    stream.unchecked_from = std::min(stream.unchecked_from, cursor);
  } else if (cursor < stream.cursor) {
    NoteDeadCandidates(*stream.index, cursor + 1, stream.cursor + 1);
  }
  stream.cursor = cursor;
}

void IndexAwarePolicy::SetStreamRange(StreamId id, uint64_t begin, uint64_t end) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.direction != StreamDirection::kForward) return;
  it->second.begin = begin;
  it->second.end = end;
  it->second.unchecked_from = std::max(it->second.unchecked_from, begin);
}

void IndexAwarePolicy::SetStreamSpeed(StreamId id, double speed) {
  if (auto it = streams_.find(id); it != streams_.end() && speed > 0) it->second.speed = speed;
}

void IndexAwarePolicy::SkipPosition(StreamId id, uint64_t position) {
  if (auto it = streams_.find(id); it != streams_.end()) it->second.skipped.insert(position);
}

void IndexAwarePolicy::CloseStream(StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  PositionIndex* index = it->second.index;
  const Stream closed = std::move(it->second);
  streams_.erase(it);
  // What it passed or had still to read may be dead now, behind the other streams of its order:
  // their passed ranges reach back to the closed stream's (no cost per key here).
  if (closed.direction == StreamDirection::kForward) {
    for (auto& [other_id, other] : streams_) {
      if (other.index == index && other.direction == StreamDirection::kForward) {
        other.unchecked_from = std::min(other.unchecked_from, closed.unchecked_from);
      }
    }
  } else if (!streams_.empty()) {
    NoteDeadCandidates(*index, 0, closed.cursor + 1);
  }
  if (streams_.empty()) reader_uses_.clear();  // kept only while streams need them
  if (--index->streams > 0) return;
  std::unique_ptr<PositionIndex> owned = std::move(indexes_[index->order.get()]);
  indexes_.erase(index->order.get());
  for (const auto& [key, positions] : owned->positions) {
    if (named_tracked_.contains(key) && !Named(key)) named_tracked_.erase(key);
  }
}

void IndexAwarePolicy::AddHintedUses(const ChunkDigest& key, uint32_t uses) {
  hinted_uses_[key] += uses;
  if (inner_->Tracks(key)) named_tracked_.try_emplace(key, kNoReaderUse);
}

}  // namespace chunkcache
