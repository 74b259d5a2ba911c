#include "cache/trace/policy_replay.h"

#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cache/eviction_policy.h"
#include "cache/trace/chunk_key.h"
#include "cache/trace/optimal_replay.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

// Every chunk has the same charge; its value does not matter.
constexpr uint64_t kChunkCharge = 4 << 20;

}  // namespace

absl::StatusOr<ReplayResult> PolicyOnlyReplay(absl::Span<const ReplayAccess> accesses,
                                              std::string_view policy_name,
                                              uint64_t capacity_chunks,
                                              CopyAdmission copy_admission) {
  ReplayWorkload workload;
  workload.accesses.assign(accesses.begin(), accesses.end());
  return PolicyOnlyReplay(workload, policy_name, capacity_chunks, copy_admission);
}

absl::StatusOr<ReplayResult> PolicyOnlyReplay(const ReplayWorkload& workload,
                                              std::string_view policy_name,
                                              uint64_t capacity_chunks,
                                              CopyAdmission copy_admission) {
  if (policy_name == kOptimalPolicyName) {
    return OptimalReplay(workload.accesses, capacity_chunks);
  }
  absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy =
      MakeEvictionPolicy(policy_name, capacity_chunks * kChunkCharge);
  if (!policy.ok()) return policy.status();
  StreamKnowledge* knowledge = (*policy)->stream_knowledge();
  absl::flat_hash_set<ChunkDigest> resident;
  auto evictable = [](const ChunkDigest&) { return true; };
  ReplayResult result;
  size_t next_event = 0;
  for (size_t i = 0; i < workload.accesses.size(); ++i) {
    ApplyStreamEvents(workload, i, &next_event, knowledge);
    const ReplayAccess& access = workload.accesses[i];
    const bool is_guest = access.source == AccessSource::kGuest;
    const bool as_demand = is_guest || copy_admission == CopyAdmission::kDemand;
    const ChunkDigest key = ChunkKeyForId(access.chunk);
    const bool hit = resident.contains(key);
    result.Count(access, !hit);
    if (hit) {
      if (as_demand) (*policy)->OnAccess(key);
      continue;
    }
    if (capacity_chunks == 0) continue;
    if (as_demand) (*policy)->OnMiss(key);
    while (resident.size() >= capacity_chunks) {
      std::optional<ChunkDigest> victim = (*policy)->PickVictim(evictable);
      if (!victim || resident.erase(*victim) != 1) {
        return absl::InternalError(absl::StrCat("policy ", ToAbsl(policy_name), " returned ",
                                                victim ? "a key that is not cached" : "no victim",
                                                " with ", resident.size(), " chunks cached"));
      }
    }
    (*policy)->OnInsert(key, kChunkCharge, as_demand ? InsertKind::kDemand : InsertKind::kPrefetch);
    resident.insert(key);
  }
  ApplyStreamEvents(workload, workload.accesses.size(), &next_event, knowledge);
  return result;
}

}  // namespace chunkcache
