#include "cache/internal/extent_window.h"

namespace chunkcache::internal {

std::optional<EvictionWindow> FindEvictionWindow(const std::vector<ArenaSegment>& segments,
                                                 uint64_t need_pages) {
  // Two pointers: costs are non-negative, so for each left end the shortest window that is
  // long enough is also the cheapest one starting there. Blocked segments split the scan.
  std::optional<EvictionWindow> best;
  size_t left = 0;
  uint64_t span = 0;
  uint64_t cost = 0;
  for (size_t right = 0; right < segments.size(); ++right) {
    const ArenaSegment& seg = segments[right];
    if (seg.kind == ArenaSegment::Kind::kBlocked) {
      left = right + 1;
      span = 0;
      cost = 0;
      continue;
    }
    span += seg.pages;
    cost += seg.cost;
    while (left < right && span - segments[left].pages >= need_pages) {
      span -= segments[left].pages;
      cost -= segments[left].cost;
      ++left;
    }
    if (span >= need_pages && (!best || cost < best->cost)) {
      best = EvictionWindow{left, right, cost};
    }
  }
  return best;
}

}  // namespace chunkcache::internal
