#include "cache/policies/index_aware_policy.h"

#include <algorithm>

namespace chunkcache {

IndexAwarePolicy::IndexAwarePolicy(std::unique_ptr<EvictionPolicy> unknown_future_policy,
                                   double reader_reuse_factor)
    : inner_(std::move(unknown_future_policy)), reader_reuse_factor_(reader_reuse_factor) {}

void IndexAwarePolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind kind) {
  inner_->OnInsert(key, charge, kind);
  if (Named(key)) {
    named_tracked_[key] = kind == InsertKind::kDemand ? now_ : kNoReaderUse;
  }
}

void IndexAwarePolicy::OnAccess(const ChunkDigest& key) {
  inner_->OnAccess(key);
  NoteReaderUse(key);
  ConsumeHintedUse(key);
}

bool IndexAwarePolicy::AccessIfTracked(const ChunkDigest& key) {
  if (!inner_->AccessIfTracked(key)) return false;
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
  if (it != hinted_uses_.end() && it->second > 0) --it->second;
}

void IndexAwarePolicy::OnErase(const ChunkDigest& key) {
  inner_->OnErase(key);
  named_tracked_.erase(key);
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
    named = true;
    const std::vector<uint64_t>& positions = found->second;
    std::optional<uint64_t> ahead;
    if (stream.direction == StreamDirection::kForward) {
      for (auto it = std::lower_bound(positions.begin(), positions.end(), stream.cursor);
           it != positions.end(); ++it) {
        if (!stream.skipped.contains(*it)) {
          ahead = *it - stream.cursor;
          break;
        }
      }
    } else {
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
  // Classes 1 and 2 in the wrapped policy's order, classifying only the keys it reaches: in
  // a stream's wake the oldest entries are the dead ones, so this usually stops at once.
  std::optional<ChunkDigest> victim = inner_->PickVictim(
      [&](const ChunkDigest& key) { return evictable(key) && future_of(key) == Future::kDead; });
  if (!victim) {
    victim = inner_->PickVictim([&](const ChunkDigest& key) {
      return evictable(key) && future_of(key) == Future::kUnknown;
    });
  }
  if (!victim) {
    // Class 3: every evictable key has a known next use; the furthest goes.
    double furthest_distance = 0;
    for (const auto& [key, reader_use] : named_tracked_) {
      double distance = 0;
      if (!evictable(key) || Classify(key, &distance) != Future::kKnown) continue;
      if (reader_use != kNoReaderUse) {
        distance = std::min(distance, reader_reuse_factor_ * (now_ - reader_use));
      }
      if (!victim || distance > furthest_distance ||
          (distance == furthest_distance && key.bytes < victim->bytes)) {
        victim = key;
        furthest_distance = distance;
      }
    }
    if (victim) inner_->OnErase(*victim);
  }
  if (victim) named_tracked_.erase(*victim);
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
      if (inner_->Tracks(key)) named_tracked_.try_emplace(key, kNoReaderUse);
    }
  }
  ++index->streams;
  streams_[id] = Stream{index.get(), cursor, direction, speed > 0 ? speed : 1, {}};
}

void IndexAwarePolicy::MoveStream(StreamId id, uint64_t cursor) {
  if (auto it = streams_.find(id); it != streams_.end()) it->second.cursor = cursor;
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
  streams_.erase(it);
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
