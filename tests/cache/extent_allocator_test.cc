// ExtentAllocator and FindEvictionWindow: page extents of the arena.
#include "cache/internal/extent_allocator.h"

#include <random>
#include <vector>

#include "cache/internal/extent_window.h"
#include "gtest/gtest.h"

namespace chunkcache::internal {
namespace {

TEST(ExtentAllocatorTest, AllocatesBestFitAndCoalescesOnFree) {
  ExtentAllocator pages(100);
  std::optional<uint64_t> a = pages.Allocate(10);
  std::optional<uint64_t> b = pages.Allocate(20);
  std::optional<uint64_t> c = pages.Allocate(5);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 0u);
  EXPECT_EQ(*b, 10u);
  EXPECT_EQ(*c, 30u);
  EXPECT_EQ(pages.free_pages(), 65u);

  pages.Free(*a, 10);  // hole of 10 at 0
  // Best fit: a 4-page request goes into the 10-page hole, not the 65-page tail.
  std::optional<uint64_t> d = pages.Allocate(4);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, 0u);
  pages.Free(*d, 4);
  pages.Free(*b, 20);  // merges with the hole before: 0..30 free
  EXPECT_EQ(pages.free_extent_count(), 2u);
  EXPECT_EQ(pages.largest_free_pages(), 65u);
  pages.Free(*c, 5);  // everything merges into one extent
  EXPECT_EQ(pages.free_extent_count(), 1u);
  EXPECT_EQ(pages.largest_free_pages(), 100u);
  EXPECT_EQ(pages.free_pages(), 100u);
}

TEST(ExtentAllocatorTest, RefusesWhatDoesNotFit) {
  ExtentAllocator pages(8);
  EXPECT_FALSE(pages.Allocate(9).has_value());
  EXPECT_FALSE(pages.Allocate(0).has_value());
  ASSERT_TRUE(pages.Allocate(3));
  ASSERT_TRUE(pages.Allocate(3));
  EXPECT_FALSE(pages.Allocate(3).has_value());  // 2 pages left
  EXPECT_EQ(pages.free_pages(), 2u);
}

TEST(ExtentAllocatorTest, AllocateAtClaimsExactRangesOnly) {
  ExtentAllocator pages(50);
  EXPECT_TRUE(pages.AllocateAt(10, 5));
  EXPECT_FALSE(pages.AllocateAt(12, 5));  // overlaps
  EXPECT_FALSE(pages.AllocateAt(48, 5));  // past the end
  EXPECT_TRUE(pages.AllocateAt(15, 35));
  EXPECT_TRUE(pages.AllocateAt(0, 10));
  EXPECT_EQ(pages.free_pages(), 0u);
  pages.Free(10, 5);
  EXPECT_EQ(pages.largest_free_pages(), 5u);
}

TEST(ExtentAllocatorTest, RandomAllocationsNeverOverlapAndAccountingHolds) {
  constexpr uint64_t kPages = 4096;
  ExtentAllocator pages(kPages);
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, uint64_t>> live;
  std::vector<int> owner(kPages, 0);
  uint64_t used = 0;
  for (int step = 0; step < 20000; ++step) {
    if (!live.empty() && (rng() % 2 == 0 || used > kPages * 3 / 4)) {
      const size_t i = rng() % live.size();
      auto [start, n] = live[i];
      for (uint64_t p = start; p < start + n; ++p) owner[p] = 0;
      pages.Free(start, n);
      used -= n;
      live[i] = live.back();
      live.pop_back();
    } else {
      const uint64_t n = 1 + rng() % 64;
      if (std::optional<uint64_t> start = pages.Allocate(n)) {
        for (uint64_t p = *start; p < *start + n; ++p) {
          ASSERT_EQ(owner[p], 0) << "page " << p << " handed out twice";
          owner[p] = 1;
        }
        live.emplace_back(*start, n);
        used += n;
      }
    }
    ASSERT_EQ(pages.free_pages(), kPages - used);
  }
  for (auto [start, n] : live) pages.Free(start, n);
  EXPECT_EQ(pages.free_extent_count(), 1u);
}

using Kind = ArenaSegment::Kind;

TEST(EvictionWindowTest, PicksTheCheapestRunOfNeighbours) {
  // free 2 | entry 3 pages (1000 B) | free 1 | entry 2 (50 B) | pinned 4 | free 2 | entry 2 (10 B)
  std::vector<ArenaSegment> segments = {
      {0, 2, Kind::kFree, 0, nullptr},        {2, 3, Kind::kEvictable, 1000, nullptr},
      {5, 1, Kind::kFree, 0, nullptr},        {6, 2, Kind::kEvictable, 50, nullptr},
      {8, 4, Kind::kBlocked, 0, nullptr},     {12, 2, Kind::kFree, 0, nullptr},
      {14, 2, Kind::kEvictable, 10, nullptr},
  };
  std::optional<EvictionWindow> four = FindEvictionWindow(segments, 4);
  ASSERT_TRUE(four.has_value());
  EXPECT_EQ(four->first, 5u);  // free 2 + the 10-byte entry behind the pinned one
  EXPECT_EQ(four->last, 6u);
  EXPECT_EQ(four->cost, 10u);

  std::optional<EvictionWindow> six = FindEvictionWindow(segments, 6);
  ASSERT_TRUE(six.has_value());  // only left of the pinned extent: 8 pages there
  EXPECT_EQ(six->first, 0u);     // free 2 + 1000 B + free 1, cheaper than adding the 50 B one
  EXPECT_EQ(six->last, 2u);
  EXPECT_EQ(six->cost, 1000u);

  EXPECT_FALSE(FindEvictionWindow(segments, 9).has_value());  // the pinned extent splits it

  // Anchored on page 6 (the 50-byte entry): the window must hold it, and with only the free
  // page before it that is 3 pages, so the 1000-byte entry goes too.
  std::optional<EvictionWindow> anchored = FindEvictionWindow(segments, 4, 6);
  ASSERT_TRUE(anchored.has_value());
  EXPECT_EQ(anchored->first, 1u);
  EXPECT_EQ(anchored->last, 3u);
  EXPECT_EQ(anchored->cost, 1050u);
  EXPECT_FALSE(FindEvictionWindow(segments, 4, 9).has_value());   // anchor in a pinned extent
  EXPECT_FALSE(FindEvictionWindow(segments, 4, 99).has_value());  // anchor outside the arena
}

}  // namespace
}  // namespace chunkcache::internal
