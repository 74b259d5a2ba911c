#include "cache/policies/arc_policy.h"

#include <algorithm>

namespace chunkcache {
namespace {

constexpr size_t kMaxPendingAdmissions = 4096;

}  // namespace

ArcPolicy::LastMiss ArcPolicy::ConsumeGhost(const ChunkDigest& key) {
  if (Queue::Entry* ghost = b1_.Find(key)) {
    const double ratio = static_cast<double>(b2_.bytes()) / static_cast<double>(b1_.bytes());
    p_ = std::min(p_ + std::max(ratio, 1.0) * static_cast<double>(ghost->charge),
                  static_cast<double>(capacity_bytes_));
    b1_.Erase(key);
    return LastMiss::kInB1;
  }
  if (Queue::Entry* ghost = b2_.Find(key)) {
    const double ratio = static_cast<double>(b1_.bytes()) / static_cast<double>(b2_.bytes());
    p_ = std::max(p_ - std::max(ratio, 1.0) * static_cast<double>(ghost->charge), 0.0);
    b2_.Erase(key);
    return LastMiss::kInB2;
  }
  return LastMiss::kUnknownKey;
}

void ArcPolicy::OnMiss(const ChunkDigest& key) {
  last_miss_ = ConsumeGhost(key);
  if (last_miss_ == LastMiss::kUnknownKey) return;
  if (admit_to_t2_.size() >= kMaxPendingAdmissions) admit_to_t2_.clear();
  admit_to_t2_.insert(key);
}

void ArcPolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (t1_.contains(key) || t2_.contains(key)) return OnAccess(key);
  const bool seen_recently =
      admit_to_t2_.erase(key) > 0 || ConsumeGhost(key) != LastMiss::kUnknownKey;
  (seen_recently ? t2_ : t1_).PushFront(key, charge);
  last_miss_ = LastMiss::kUnknownKey;
}

void ArcPolicy::OnAccess(const ChunkDigest& key) {
  if (auto entry = t1_.Erase(key)) {
    t2_.PushFront(entry->key, entry->charge);
    return;
  }
  auto it = t2_.IteratorOf(key);
  if (it != t2_.end()) t2_.MoveToFront(it);
}

void ArcPolicy::OnErase(const ChunkDigest& key) {
  if (!t1_.Erase(key)) t2_.Erase(key);
}

std::optional<ArcPolicy::Queue::Entry> ArcPolicy::TakeOldest(
    Queue& queue, absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  for (auto it = queue.Oldest(); it != queue.end(); it = queue.Newer(it)) {
    if (evictable(it->key)) return queue.Erase(it);
  }
  return std::nullopt;
}

std::optional<ChunkDigest> ArcPolicy::Replace(absl::FunctionRef<bool(const ChunkDigest&)> evictable,
                                              bool missed_key_in_b2) {
  const double t1_bytes = static_cast<double>(t1_.bytes());
  const bool from_t1 =
      (!t1_.empty() && (t1_bytes > p_ || (t1_bytes == p_ && missed_key_in_b2))) || t2_.empty();
  Queue& first = from_t1 ? t1_ : t2_;
  Queue& second = from_t1 ? t2_ : t1_;
  std::optional<Queue::Entry> victim = TakeOldest(first, evictable);
  bool victim_from_t1 = from_t1;
  if (!victim) {
    victim = TakeOldest(second, evictable);
    victim_from_t1 = !from_t1;
  }
  if (!victim) return std::nullopt;
  (victim_from_t1 ? b1_ : b2_).PushFront(victim->key, victim->charge);
  return victim->key;
}

std::optional<ChunkDigest> ArcPolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  if (last_miss_ != LastMiss::kUnknownKey) {
    return Replace(evictable, last_miss_ == LastMiss::kInB2);
  }
  const uint64_t c = capacity_bytes_;
  if (t1_.bytes() + b1_.bytes() >= c) {
    if (!b1_.empty()) {
      b1_.Erase(b1_.Oldest());
      return Replace(evictable, false);
    }
    // T1 alone fills the cache: its oldest key goes without a ghost.
    if (auto victim = TakeOldest(t1_, evictable)) return victim->key;
    if (auto victim = TakeOldest(t2_, evictable)) return victim->key;
    return std::nullopt;
  }
  if (t1_.bytes() + t2_.bytes() + b1_.bytes() + b2_.bytes() >= 2 * c && !b2_.empty()) {
    b2_.Erase(b2_.Oldest());
  }
  return Replace(evictable, false);
}

}  // namespace chunkcache
