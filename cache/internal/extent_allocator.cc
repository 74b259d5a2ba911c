#include "cache/internal/extent_allocator.h"

#include <iterator>

namespace chunkcache::internal {

ExtentAllocator::ExtentAllocator(uint64_t total_pages) : total_pages_(total_pages) {
  if (total_pages > 0) Insert(0, total_pages);
}

void ExtentAllocator::Insert(uint64_t start, uint64_t pages) {
  by_start_.emplace(start, pages);
  by_size_.emplace(pages, start);
  free_pages_ += pages;
}

void ExtentAllocator::Erase(std::map<uint64_t, uint64_t>::iterator it) {
  by_size_.erase({it->second, it->first});
  free_pages_ -= it->second;
  by_start_.erase(it);
}

std::optional<uint64_t> ExtentAllocator::Allocate(uint64_t pages) {
  if (pages == 0) return std::nullopt;
  auto fit = by_size_.lower_bound({pages, 0});
  if (fit == by_size_.end()) return std::nullopt;
  const auto [extent_pages, start] = *fit;
  Erase(by_start_.find(start));
  if (extent_pages > pages) Insert(start + pages, extent_pages - pages);
  return start;
}

bool ExtentAllocator::AllocateAt(uint64_t start, uint64_t pages) {
  if (pages == 0 || start + pages > total_pages_ || start + pages < start) return false;
  auto it = by_start_.upper_bound(start);
  if (it == by_start_.begin()) return false;
  --it;  // the free extent starting at or before `start`
  const uint64_t free_start = it->first;
  const uint64_t free_end = free_start + it->second;
  if (start + pages > free_end) return false;
  Erase(it);
  if (free_start < start) Insert(free_start, start - free_start);
  if (start + pages < free_end) Insert(start + pages, free_end - (start + pages));
  return true;
}

void ExtentAllocator::Free(uint64_t start, uint64_t pages) {
  uint64_t merged_start = start;
  uint64_t merged_pages = pages;
  auto next = by_start_.lower_bound(start);
  if (next != by_start_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      merged_start = prev->first;
      merged_pages += prev->second;
      Erase(prev);
    }
  }
  if (next != by_start_.end() && next->first == start + pages) {
    merged_pages += next->second;
    Erase(next);
  }
  Insert(merged_start, merged_pages);
}

uint64_t ExtentAllocator::largest_free_pages() const {
  return by_size_.empty() ? 0 : by_size_.rbegin()->first;
}

void ExtentAllocator::ForEachFreeExtent(absl::FunctionRef<void(uint64_t, uint64_t)> visit) const {
  for (const auto& [start, pages] : by_start_) visit(start, pages);
}

}  // namespace chunkcache::internal
