// FindEvictionWindow: when the arena has enough free pages for a chunk but no free run long
// enough (external fragmentation), the cache evicts a run of neighbouring entries instead of
// evicting policy victims until two free extents happen to merge. This picks that run.
//
// The arena is described in address order as segments: free extents (cost 0), evictable
// entries (cost = their bytes) and blocked extents (pinned, hinted or still filling). The
// answer is the window of consecutive, unblocked segments spanning at least `need_pages`
// whose evictable bytes are smallest: the least data thrown away to make room. With an
// anchor, only windows containing that page count: the cache anchors on the extent its
// eviction policy just freed, so the policy's choice stays the main victim and only that
// hole's cheapest neighbours go with it.
//
//   std::vector<ArenaSegment> segs = ...;  // covering the arena in address order
//   if (auto w = FindEvictionWindow(segs, pages, anchor)) evict segs[w->first .. w->last];
//
// A pure function; no state.
#ifndef CHUNKCACHE_CACHE_INTERNAL_EXTENT_WINDOW_H_
#define CHUNKCACHE_CACHE_INTERNAL_EXTENT_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace chunkcache::internal {

struct ArenaSegment {
  enum class Kind { kFree, kEvictable, kBlocked };
  uint64_t start_page = 0;
  uint64_t pages = 0;
  Kind kind = Kind::kFree;
  uint64_t cost = 0;            // bytes lost by evicting it (kEvictable only)
  const void* owner = nullptr;  // the entry, for kEvictable
};

struct EvictionWindow {
  size_t first = 0;  // indexes into the segment vector, inclusive
  size_t last = 0;
  uint64_t cost = 0;
};

std::optional<EvictionWindow> FindEvictionWindow(const std::vector<ArenaSegment>& segments,
                                                 uint64_t need_pages,
                                                 std::optional<uint64_t> anchor_page = {});

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_EXTENT_WINDOW_H_
