#include "cache/policies/expert_switch_policy.h"

#include <algorithm>
#include <cmath>

namespace chunkcache {

ExpertSwitchPolicy::ExpertSwitchPolicy(std::string name, uint64_t capacity_bytes,
                                       std::vector<std::unique_ptr<EvictionPolicy>> experts,
                                       double window_capacities)
    : name_(std::move(name)),
      capacity_bytes_(capacity_bytes),
      window_capacities_(window_capacities) {
  experts_.reserve(experts.size());
  for (std::unique_ptr<EvictionPolicy>& policy : experts) {
    experts_.push_back(Expert{.policy = std::move(policy), .doomed = KeyedQueue<NoMeta>(&pool_)});
  }
}

size_t ExpertSwitchPolicy::Leader() const {
  size_t leader = 0;
  for (size_t i = 1; i < experts_.size(); ++i) {
    if (experts_[i].recent_misses < experts_[leader].recent_misses) leader = i;
  }
  return leader;
}

uint64_t ExpertSwitchPolicy::MeanCharge() const {
  return resident_.empty() ? 1 : std::max<uint64_t>(1, resident_.bytes() / resident_.size());
}

void ExpertSwitchPolicy::Simulate(const ChunkDigest& key, uint64_t charge) {
  // charge / capacity first: with equal charges the quotient is exact whatever the charge.
  if (charge != decay_charge_) {
    decay_charge_ = charge;
    decay_ =
        std::exp(-static_cast<double>(charge) /
                 static_cast<double>(std::max<uint64_t>(capacity_bytes_, 1)) / window_capacities_);
  }
  const double decay = decay_;
  auto all_evictable = [](const ChunkDigest&) { return true; };
  for (Expert& expert : experts_) {
    expert.recent_misses *= decay;
    if (expert.policy->AccessIfTracked(key)) continue;
    expert.recent_misses += 1;
    expert.policy->OnMiss(key);
    while (expert.policy->tracked_bytes() + charge > capacity_bytes_ &&
           expert.policy->tracked() > 0) {
      std::optional<ChunkDigest> victim = expert.policy->PickVictim(all_evictable);
      if (!victim) break;
      auto real = resident_.IteratorOf(*victim);
      if (real != resident_.end() && !expert.doomed.contains(*victim)) {
        expert.doomed.PushFront(*victim, real->charge);
      }
    }
    expert.policy->OnInsert(key, charge, InsertKind::kDemand);
    expert.doomed.Erase(key);
  }
}

void ExpertSwitchPolicy::Forget(const ChunkDigest& key) {
  for (Expert& expert : experts_) expert.doomed.Erase(key);
}

void ExpertSwitchPolicy::OnMiss(const ChunkDigest& key) {
  if (resident_.contains(key)) return;
  // Simulated at the first PickVictim for it (or at OnInsert), so that hits the cache reports
  // late, but that happened before this miss, reach the simulations first.
  pending_miss_ = key;
  pending_miss_simulated_ = false;
}

void ExpertSwitchPolicy::OnInsert(const ChunkDigest& key, uint64_t charge, InsertKind /*kind*/) {
  if (resident_.contains(key)) return OnAccess(key);
  if (pending_miss_ != key || !pending_miss_simulated_) Simulate(key, charge);
  if (pending_miss_ == key) pending_miss_.reset();
  resident_.PushFront(key, charge);
  // A simulation that kept the key while it was away may still list it as doomed.
  for (Expert& expert : experts_) {
    if (!expert.policy->Tracks(key)) expert.doomed.PushFront(key, charge);
  }
}

void ExpertSwitchPolicy::OnAccess(const ChunkDigest& key) {
  auto it = resident_.IteratorOf(key);
  if (it == resident_.end()) return;
  resident_.MoveToFront(it);
  Simulate(key, it->charge);
}

void ExpertSwitchPolicy::OnErase(const ChunkDigest& key) {
  if (resident_.Erase(key)) Forget(key);
}

std::optional<ChunkDigest> ExpertSwitchPolicy::PickVictim(
    absl::FunctionRef<bool(const ChunkDigest&)> evictable) {
  if (pending_miss_.has_value() && !pending_miss_simulated_) {
    Simulate(*pending_miss_, MeanCharge());
    pending_miss_simulated_ = true;
  }
  const size_t leader = Leader();
  std::optional<ChunkDigest> victim;
  for (size_t n = 0; n < experts_.size() && !victim; ++n) {
    KeyedQueue<NoMeta>& doomed = experts_[(leader + n) % experts_.size()].doomed;
    for (auto it = doomed.Oldest(); it != doomed.end(); it = doomed.Newer(it)) {
      if (evictable(it->key)) {
        victim = it->key;
        break;
      }
    }
  }
  if (!victim) {
    for (auto it = resident_.Oldest(); it != resident_.end(); it = resident_.Newer(it)) {
      if (evictable(it->key)) {
        victim = it->key;
        break;
      }
    }
  }
  if (!victim) return std::nullopt;
  resident_.Erase(*victim);
  Forget(*victim);
  return victim;
}

}  // namespace chunkcache
