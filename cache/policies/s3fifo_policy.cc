#include "cache/policies/s3fifo_policy.h"

#include <algorithm>

namespace chunkcache {
namespace {

constexpr uint8_t kMaxHits = 3;
constexpr uint8_t kMoveToMainHits = 2;
constexpr size_t kMaxPendingAdmissions = 4096;

}  // namespace

uint64_t S3FifoPolicy::MeanCharge() const {
  const size_t count = small_.size() + main_.size();
  return count == 0 ? 1 : std::max<uint64_t>(1, (small_.bytes() + main_.bytes()) / count);
}

void S3FifoPolicy::OnMiss(const ChunkDigest& key) {
  if (!ghost_.Erase(key)) return;
  if (admit_to_main_.size() >= kMaxPendingAdmissions) admit_to_main_.clear();
  admit_to_main_.insert(key);
}

void S3FifoPolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (small_.contains(key) || main_.contains(key)) return OnAccess(key);
  const bool seen_recently = admit_to_main_.erase(key) > 0 || ghost_.Erase(key).has_value();
  (seen_recently ? main_ : small_).PushFront(key, charge);
}

bool S3FifoPolicy::AccessIfTracked(const ChunkDigest& key) {
  Queue::Entry* entry = small_.Find(key);
  if (entry == nullptr) entry = main_.Find(key);
  if (entry == nullptr) return false;
  if (entry->meta.count < kMaxHits) ++entry->meta.count;
  return true;
}

void S3FifoPolicy::OnErase(const ChunkDigest& key) {
  if (!small_.Erase(key)) main_.Erase(key);
}

std::optional<ChunkDigest> S3FifoPolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  const uint64_t unit = MeanCharge();
  const uint64_t small_share =
      FractionOfCapacity(capacity_bytes_, small_share_percent_, 100, unit, /*min_units=*/2);
  const uint64_t main_share = capacity_bytes_ > small_share ? capacity_bytes_ - small_share : 0;
  if (main_.bytes() <= main_share && !small_.empty()) {
    if (auto victim = EvictFromSmall(evictable, unit)) return victim;
  }
  if (auto victim = EvictFromMain(evictable)) return victim;
  // Main had nothing evictable: take an unpromoted key from the small queue after all.
  return EvictFromSmall(evictable, unit);
}

std::optional<ChunkDigest> S3FifoPolicy::EvictFromSmall(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable, uint64_t unit) {
  for (Queue::iterator it = small_.Oldest(); it != small_.end();) {
    Queue::iterator newer = small_.Newer(it);
    if (it->meta.count >= kMoveToMainHits) {
      Queue::Entry entry = small_.Erase(it);
      main_.PushFront(entry.key, entry.charge);
    } else if (evictable(it->key)) {
      Queue::Entry entry = small_.Erase(it);
      ghost_.PushFront(entry.key, entry.charge);
      ghost_.TrimOldest(FractionOfCapacity(capacity_bytes_, 9, 10, unit, /*min_units=*/0));
      return entry.key;
    }
    it = newer;
  }
  return std::nullopt;
}

std::optional<ChunkDigest> S3FifoPolicy::EvictFromMain(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  // Each evictable key needs at most kMaxHits + 1 visits before it is taken.
  size_t steps_left = (kMaxHits + 1) * main_.size() + 1;
  Queue::iterator it = main_.Oldest();
  while (it != main_.end() && steps_left-- > 0) {
    Queue::iterator newer = main_.Newer(it);
    if (newer == main_.end()) newer = main_.Oldest();  // wrap around past pinned keys
    if (evictable(it->key)) {
      if (it->meta.count == 0) return main_.Erase(it).key;
      --it->meta.count;
      main_.MoveToFront(it);
      if (newer == it) newer = main_.Oldest();
    }
    it = newer;
  }
  return std::nullopt;
}

}  // namespace chunkcache
