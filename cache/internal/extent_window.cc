#include "cache/internal/extent_window.h"

namespace chunkcache::internal {

std::optional<EvictionWindow> FindEvictionWindow(const std::vector<ArenaSegment>& segments,
                                                 uint64_t need_pages,
                                                 std::optional<uint64_t> anchor_page) {
  // The segment holding the anchor page; windows must include it.
  size_t anchor = 0;
  if (anchor_page.has_value()) {
    anchor = segments.size();
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].start_page <= *anchor_page &&
          *anchor_page < segments[i].start_page + segments[i].pages) {
        anchor = i;
        break;
      }
    }
    if (anchor == segments.size()) return std::nullopt;
  }
  // Two pointers: costs are non-negative, so for each right end the shortest window that is
  // long enough (and still holds the anchor) is also the cheapest one ending there. Blocked
  // segments split the scan.
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
    while (left < right && (!anchor_page.has_value() || left < anchor) &&
           span - segments[left].pages >= need_pages) {
      span -= segments[left].pages;
      cost -= segments[left].cost;
      ++left;
    }
    const bool holds_anchor = !anchor_page.has_value() || (left <= anchor && anchor <= right);
    if (span >= need_pages && holds_anchor && (!best || cost < best->cost)) {
      best = EvictionWindow{left, right, cost};
    }
  }
  return best;
}

}  // namespace chunkcache::internal
