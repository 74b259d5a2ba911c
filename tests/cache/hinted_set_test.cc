// Hinted sets: a session pins exactly its top chunks by reference count, within the byte
// caps, while it is open.
#include "cache/internal/hinted_set.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "cache/snapshot_session.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddDynamicSnapshot;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;

constexpr char kArchive[] = "root.pxar.didx";

TEST(ChooseHintedSetTest, TakesTheLongestPrefixWithinBothCaps) {
  std::vector<DigestCount> hot = {
      {Sha256("a"), 9, 100}, {Sha256("b"), 7, 300}, {Sha256("c"), 5, 50}, {Sha256("d"), 2, 10}};
  EXPECT_EQ(internal::ChooseHintedSet(hot, 2, 1000).size(), 2u);
  EXPECT_EQ(internal::ChooseHintedSet(hot, 10, 1000).size(), 4u);
  // b does not fit in 350 bytes after a: stop there rather than pin the cooler c instead.
  std::vector<DigestCount> capped = internal::ChooseHintedSet(hot, 10, 350);
  ASSERT_EQ(capped.size(), 1u);
  EXPECT_EQ(capped[0].digest, Sha256("a"));
  EXPECT_TRUE(internal::ChooseHintedSet(hot, 10, 99).empty());
}

class HintedSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_shared<MemoryUpstream>();
    ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
    options.max_hinted_bytes = 1 << 20;
    cache_ = OpenCache(options);
    // Chunk i (0..3) is referenced 6 - i times; eight more are referenced once.
    for (int i = 0; i < 4; ++i) hot_.push_back(PseudoRandomBytes(10000 + 1000 * i, i));
    std::vector<std::string> chunks;
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 4; ++i) {
        if (round < 6 - i) chunks.push_back(hot_[i]);
      }
      chunks.push_back(PseudoRandomBytes(3000, 100 + round));
    }
    chunks.push_back(PseudoRandomBytes(3000, 200));
    chunks.push_back(PseudoRandomBytes(3000, 201));
    ASSERT_TRUE(AddDynamicSnapshot(*upstream_, TestSnapshot(1000), kArchive, chunks).ok());
    for (const std::string& c : hot_) hot_keys_.push_back(Sha256(c));
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> Open(const SessionOptions& options) {
    return SnapshotSession::Open(cache_.get(), DatastoreRef{"store1", upstream_, nullptr},
                                 TestSnapshot(1000), kArchive, options);
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> upstream_;
  std::unique_ptr<ChunkCache> cache_;
  std::vector<std::string> hot_;
  std::vector<ChunkDigest> hot_keys_;
};

TEST_F(HintedSetTest, PinsExactlyTheMostReferencedChunks) {
  SessionOptions options;
  options.hinted_chunks = 2;
  auto session = Open(options);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->hinted_chunks(), 2u);
  ASSERT_TRUE(WaitFor([&] { return (*session)->hinted_chunks_pinned() == 2; }));
  EXPECT_TRUE(cache_->Contains(hot_keys_[0]));
  EXPECT_TRUE(cache_->Contains(hot_keys_[1]));
  EXPECT_FALSE(cache_->Contains(hot_keys_[2]));
  EXPECT_EQ(upstream_->TotalChunkReads(), 2u);
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.hinted_bytes, hot_[0].size() + hot_[1].size());
  EXPECT_EQ(stats.pinned_bytes, stats.hinted_bytes);
  EXPECT_EQ((*session)->Stats().hinted_chunks, 2u);
  EXPECT_EQ(stats.lookups.total(), 0u);  // hint fetches are not reader lookups

  // A read of the hottest chunk is a hinted hit.
  ASSERT_TRUE((*session)->Read(0, 100, absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(cache_->Stats().lookups.hinted_hit, 1u);

  session->reset();  // closing releases the pins
  stats = cache_->Stats();
  EXPECT_EQ(stats.hinted_bytes, 0u);
  EXPECT_EQ(stats.pinned_bytes, 0u);
  EXPECT_EQ(stats.evictable_bytes, hot_[0].size() + hot_[1].size());
}

TEST_F(HintedSetTest, PerSessionByteCapKeepsTheHottestPrefix) {
  SessionOptions options;
  options.hinted_chunks = 4;
  options.hinted_bytes_per_session = hot_[0].size() + hot_[1].size() + 100;  // not room for c
  auto session = Open(options);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ((*session)->hinted_chunks(), 2u);
  ASSERT_TRUE(WaitFor([&] { return (*session)->hinted_chunks_pinned() == 2; }));
  EXPECT_FALSE(cache_->Contains(hot_keys_[2]));
}

TEST_F(HintedSetTest, CacheWideCapIsSharedBetweenSessions) {
  ChunkCacheOptions options = SmallCacheOptions(dir_.path() / "second", 4 << 20);
  options.max_hinted_bytes = hot_[0].size() + hot_[1].size() + hot_[2].size();
  cache_ = OpenCache(options);
  SessionOptions session_options;
  session_options.hinted_chunks = 2;
  auto first = Open(session_options);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)->hinted_chunks(), 2u);
  auto second = Open(session_options);  // 12000 bytes are left: room for 10000, not 21000
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->hinted_chunks(), 1u);
  first->reset();
  auto third = Open(session_options);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)->hinted_chunks(), 2u);  // the budget came back
}

TEST_F(HintedSetTest, IdleSessionIsClosedAndReleasesItsPins) {
  SessionOptions options;
  options.hinted_chunks = 3;
  options.idle_timeout = absl::Milliseconds(50);
  SessionRegistry registry(cache_.get(), options);
  DatastoreRef store{"store1", upstream_, nullptr};
  {
    auto session = registry.Open(store, TestSnapshot(1000), kArchive);
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_TRUE(WaitFor([&] { return (*session)->hinted_chunks_pinned() == 3; }));
    EXPECT_GT(cache_->Stats().hinted_bytes, 0u);
    absl::SleepFor(absl::Milliseconds(120));
    EXPECT_EQ(registry.open_sessions(), 1u);  // still held by this caller: never closed
  }
  ASSERT_TRUE(WaitFor([&] { return registry.open_sessions() == 0; }));
  CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.sessions_open, 0u);
  EXPECT_EQ(stats.hinted_bytes, 0u);
  EXPECT_EQ(stats.pinned_bytes, 0u);
  EXPECT_EQ(stats.entries, 3u);  // the chunks stay cached, now evictable
}

}  // namespace
}  // namespace chunkcache
