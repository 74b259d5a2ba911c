// ContentChunker: size limits and boundary stability under insertions.
#include "format/chunker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::PseudoRandomBytes;

// Absolute stream offsets where `chunker` cuts `data`, fed in pieces of `piece` bytes, plus
// the end of the stream.
std::vector<size_t> Boundaries(ContentChunker& chunker, std::string_view data, size_t piece) {
  std::vector<size_t> cuts;
  size_t fed = 0;
  while (fed < data.size()) {
    std::string_view rest = data.substr(fed, piece);
    size_t cut = chunker.Scan(rest);
    if (cut == 0) {
      fed += rest.size();
    } else {
      fed += cut;
      cuts.push_back(fed);
    }
  }
  if (cuts.empty() || cuts.back() != data.size()) cuts.push_back(data.size());
  return cuts;
}

TEST(PbsContentChunker, DefaultLimitsAreThoseOfPbs) {
  ContentChunker chunker;
  EXPECT_EQ(chunker.min_size(), 1u << 20);
  EXPECT_EQ(chunker.max_size(), 16u << 20);
  ContentChunker odd(100000);  // rounded up to a power of two
  EXPECT_EQ(odd.min_size(), 32768u);
  EXPECT_EQ(odd.max_size(), 524288u);
}

TEST(PbsContentChunker, BoundariesRespectMinAndMax) {
  std::string data = PseudoRandomBytes(24 << 20, 42);
  ContentChunker chunker;
  std::vector<size_t> cuts = Boundaries(chunker, data, 1 << 20);
  ASSERT_GE(cuts.size(), 3u);
  size_t previous = 0;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {  // the tail may be short
    size_t size = cuts[i] - previous;
    EXPECT_GE(size, chunker.min_size()) << i;
    EXPECT_LE(size, chunker.max_size()) << i;
    previous = cuts[i];
  }
}

TEST(PbsContentChunker, ZerosCutAtTheMaximum) {
  std::string zeros(3 << 20, '\0');
  ContentChunker chunker(64 * 1024);
  std::vector<size_t> cuts = Boundaries(chunker, zeros, 100000);
  ASSERT_GE(cuts.size(), 2u);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) EXPECT_EQ(cuts[i], (i + 1) * chunker.max_size());
}

TEST(PbsContentChunker, AverageIsNearTheTarget) {
  std::string data = PseudoRandomBytes(16 << 20, 3);
  ContentChunker chunker(64 * 1024);
  std::vector<size_t> cuts = Boundaries(chunker, data, 1 << 16);
  double average = static_cast<double>(data.size()) / static_cast<double>(cuts.size());
  EXPECT_GT(average, 64 * 1024 * 0.5);
  EXPECT_LT(average, 64 * 1024 * 2.0);
}

TEST(PbsContentChunker, PieceSizeDoesNotChangeBoundaries) {
  std::string data = PseudoRandomBytes(4 << 20, 9);
  ContentChunker a(64 * 1024), b(64 * 1024);
  EXPECT_EQ(Boundaries(a, data, 1 << 20), Boundaries(b, data, 777));
}

TEST(PbsContentChunker, InsertionNearTheStartKeepsLaterBoundaries) {
  std::string data = PseudoRandomBytes(8 << 20, 11);
  std::string inserted = data;
  const std::string extra = "a few inserted bytes";
  inserted.insert(1000, extra);

  ContentChunker a(64 * 1024), b(64 * 1024);
  std::vector<size_t> original = Boundaries(a, data, 1 << 20);
  std::vector<size_t> shifted = Boundaries(b, inserted, 1 << 20);
  ASSERT_GT(original.size(), 20u);

  size_t kept = 0;
  for (size_t cut : original) {
    if (cut < 1000) continue;
    if (std::binary_search(shifted.begin(), shifted.end(), cut + extra.size())) ++kept;
  }
  // All but the first one or two boundaries after the insertion reappear, shifted.
  EXPECT_GE(kept + 2, original.size());
}

}  // namespace
}  // namespace chunkcache
