#include "cache/policies/two_queue_policy.h"

#include <algorithm>

namespace chunkcache {
namespace {

constexpr size_t kMaxPendingAdmissions = 4096;

}  // namespace

uint64_t TwoQueuePolicy::MeanCharge() const {
  const size_t count = a1in_.size() + am_.size();
  return count == 0 ? 1 : std::max<uint64_t>(1, (a1in_.bytes() + am_.bytes()) / count);
}

void TwoQueuePolicy::OnMiss(const ChunkDigest& key) {
  if (!a1out_.Erase(key)) return;
  if (admit_to_am_.size() >= kMaxPendingAdmissions) admit_to_am_.clear();
  admit_to_am_.insert(key);
}

void TwoQueuePolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (a1in_.contains(key) || am_.contains(key)) return OnAccess(key);
  const bool seen_recently = admit_to_am_.erase(key) > 0 || a1out_.Erase(key).has_value();
  (seen_recently ? am_ : a1in_).PushFront(key, charge);
}

void TwoQueuePolicy::OnAccess(const ChunkDigest& key) {
  auto it = am_.IteratorOf(key);
  if (it != am_.end()) am_.MoveToFront(it);  // hits in A1in change nothing
}

void TwoQueuePolicy::OnErase(const ChunkDigest& key) {
  if (!a1in_.Erase(key)) am_.Erase(key);
}

std::optional<ChunkDigest> TwoQueuePolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  const uint64_t unit = MeanCharge();
  const uint64_t a1in_share = FractionOfCapacity(capacity_bytes_, 1, 4, unit, /*min_units=*/0);
  if (a1in_.bytes() > a1in_share) {
    if (auto victim = EvictFromA1in(evictable, unit)) return victim;
    return EvictFromAm(evictable);
  }
  if (auto victim = EvictFromAm(evictable)) return victim;
  return EvictFromA1in(evictable, unit);
}

std::optional<ChunkDigest> TwoQueuePolicy::EvictFromA1in(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable, uint64_t unit) {
  for (auto it = a1in_.Oldest(); it != a1in_.end(); it = a1in_.Newer(it)) {
    if (!evictable(it->key)) continue;
    Queue::Entry entry = a1in_.Erase(it);
    a1out_.PushFront(entry.key, entry.charge);
    a1out_.TrimOldest(FractionOfCapacity(capacity_bytes_, 1, 2, unit, /*min_units=*/0));
    return entry.key;
  }
  return std::nullopt;
}

std::optional<ChunkDigest> TwoQueuePolicy::EvictFromAm(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  for (auto it = am_.Oldest(); it != am_.end(); it = am_.Newer(it)) {
    if (evictable(it->key)) return am_.Erase(it).key;
  }
  return std::nullopt;
}

}  // namespace chunkcache
