// ExtentAllocator: hands out contiguous runs of pages ("extents") of the cache arena.
//
// The arena is one file; every cached chunk occupies one extent of whole pages, so a 5000-byte
// tail chunk takes two pages, not a 4 MiB slot. Free extents are kept twice: by start (to
// coalesce a freed extent with its free neighbours at once) and by (length, start) for
// best-fit allocation, which keeps large free extents intact for 16 MiB chunks.
// Internal fragmentation is below one page per chunk; external fragmentation (enough free
// pages, but no run long enough) is reported by largest_free_pages() and resolved by the
// cache, which evicts a cheap window of neighbours (extent_window.h).
//
//   ExtentAllocator pages(/*total_pages=*/1024);
//   std::optional<uint64_t> start = pages.Allocate(3);   // best fit
//   pages.Free(*start, 3);                               // coalesces
//
// Not thread-safe: the cache calls it under its space mutex. Owns only bookkeeping.
#ifndef CHUNKCACHE_CACHE_INTERNAL_EXTENT_ALLOCATOR_H_
#define CHUNKCACHE_CACHE_INTERNAL_EXTENT_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/functional/function_ref.h"

namespace chunkcache::internal {

class ExtentAllocator {
 public:
  explicit ExtentAllocator(uint64_t total_pages);

  // The lowest-addressed of the shortest free extents of at least `pages` pages; nullopt
  // when no free extent is long enough. `pages` must be > 0.
  std::optional<uint64_t> Allocate(uint64_t pages);
  // Claims exactly [start, start + pages) if every page of it is free (used when reloading a
  // persisted arena); false otherwise, changing nothing.
  bool AllocateAt(uint64_t start, uint64_t pages);
  // Returns [start, start + pages), which must be allocated, and merges it with free
  // neighbours.
  void Free(uint64_t start, uint64_t pages);

  uint64_t total_pages() const { return total_pages_; }
  uint64_t free_pages() const { return free_pages_; }
  uint64_t largest_free_pages() const;
  size_t free_extent_count() const { return by_start_.size(); }

  // Calls `visit(start, pages)` for every free extent in address order.
  void ForEachFreeExtent(absl::FunctionRef<void(uint64_t, uint64_t)> visit) const;

 private:
  void Insert(uint64_t start, uint64_t pages);
  void Erase(std::map<uint64_t, uint64_t>::iterator it);

  uint64_t total_pages_;
  uint64_t free_pages_ = 0;
  std::map<uint64_t, uint64_t> by_start_;            // start -> pages
  std::set<std::pair<uint64_t, uint64_t>> by_size_;  // (pages, start)
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_EXTENT_ALLOCATOR_H_
