// MakeEvictionPolicy and the list of policy names (declared in cache/eviction_policy.h).
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cache/eviction_policy.h"
#include "cache/policies/arc_policy.h"
#include "cache/policies/expert_switch_policy.h"
#include "cache/policies/index_aware_policy.h"
#include "cache/policies/lru_policy.h"
#include "cache/policies/prefetch_fifo_policy.h"
#include "cache/policies/s3fifo_policy.h"
#include "cache/policies/sieve_policy.h"
#include "cache/policies/two_queue_policy.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

// The "switch" policy's settings (bench/RESULTS.md, "Trace replay", shows how they were
// chosen on the cloudPhysicsIO trace).
constexpr uint64_t kSwitchSmallSharePercent = 20;
constexpr double kSwitchWindow = 10;  // capacities' worth of accesses

}  // namespace

std::string_view DefaultEvictionPolicyName() { return "switch"; }

std::vector<std::string_view> EvictionPolicyNames() {
  std::vector<std::string_view> names = {DefaultEvictionPolicyName()};
  for (std::string_view name : {"switch", "lru", "s3fifo", "sieve", "arc", "2q", "index"}) {
    if (name != DefaultEvictionPolicyName()) names.push_back(name);
  }
  return names;
}

absl::StatusOr<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                                   uint64_t capacity_bytes) {
  if (name == "index") {
    absl::StatusOr<std::unique_ptr<EvictionPolicy>> unknown_future_policy =
        MakeEvictionPolicy(DefaultEvictionPolicyName(), capacity_bytes);
    if (!unknown_future_policy.ok()) return unknown_future_policy.status();
    return std::make_unique<IndexAwarePolicy>(std::move(*unknown_future_policy));
  }
  std::unique_ptr<EvictionPolicy> demand_policy;
  if (name == "lru") {
    demand_policy = std::make_unique<LruPolicy>();
  } else if (name == "s3fifo") {
    demand_policy = std::make_unique<S3FifoPolicy>(capacity_bytes);
  } else if (name == "sieve") {
    demand_policy = std::make_unique<SievePolicy>();
  } else if (name == "arc") {
    demand_policy = std::make_unique<ArcPolicy>(capacity_bytes);
  } else if (name == "2q") {
    demand_policy = std::make_unique<TwoQueuePolicy>(capacity_bytes);
  } else if (name == "switch") {
    std::vector<std::unique_ptr<EvictionPolicy>> experts;
    experts.push_back(std::make_unique<LruPolicy>());
    experts.push_back(std::make_unique<S3FifoPolicy>(capacity_bytes, kSwitchSmallSharePercent));
    demand_policy = std::make_unique<ExpertSwitchPolicy>("switch", capacity_bytes,
                                                         std::move(experts), kSwitchWindow);
  } else {
    std::vector<std::string> known;
    for (std::string_view known_name : EvictionPolicyNames()) known.emplace_back(known_name);
    return absl::InvalidArgumentError(
        absl::StrCat("unknown eviction policy '", ToAbsl(name),
                     "'; known policies: ", absl::StrJoin(known, ", ")));
  }
  return std::make_unique<PrefetchFifoPolicy>(std::move(demand_policy));
}

}  // namespace chunkcache
