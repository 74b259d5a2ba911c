#include "cache/trace/optimal_replay.h"

#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace chunkcache {

absl::StatusOr<ReplayResult> OptimalReplay(absl::Span<const ReplayAccess> accesses,
                                           uint64_t capacity_chunks) {
  constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  // next_use[i]: index of the next access to accesses[i].chunk after i, or kNever.
  std::vector<uint64_t> next_use(accesses.size(), kNever);
  {
    absl::flat_hash_map<uint64_t, uint64_t> later;  // chunk -> its nearest access after i
    for (size_t i = accesses.size(); i-- > 0;) {
      auto [it, inserted] = later.try_emplace(accesses[i].chunk, i);
      if (!inserted) {
        next_use[i] = it->second;
        it->second = i;
      }
    }
  }
  // Resident chunks by next use; the last element is the victim. A chunk never used again
  // gets kNever, ties among those broken by chunk id (any order is optimal).
  std::set<std::pair<uint64_t, uint64_t>> by_next_use;
  absl::flat_hash_map<uint64_t, uint64_t> resident;  // chunk -> its key in by_next_use
  ReplayResult result;
  for (size_t i = 0; i < accesses.size(); ++i) {
    const uint64_t chunk = accesses[i].chunk;
    auto found = resident.find(chunk);
    result.Count(accesses[i], found == resident.end());
    if (found != resident.end()) {
      by_next_use.erase({found->second, chunk});
    } else {
      if (capacity_chunks == 0) continue;
      if (resident.size() >= capacity_chunks) {
        auto victim = std::prev(by_next_use.end());
        resident.erase(victim->second);
        by_next_use.erase(victim);
      }
      found = resident.emplace(chunk, 0).first;
    }
    found->second = next_use[i];
    by_next_use.emplace(next_use[i], chunk);
  }
  return result;
}

}  // namespace chunkcache
