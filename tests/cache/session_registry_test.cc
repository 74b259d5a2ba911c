// SessionRegistry: shared sessions, coalesced opens, failures not remembered, FindOpen, and the
// byte budget of open indexes (LRU close of idle sessions, RESOURCE_EXHAUSTED when all are held).
#include "cache/session_registry.h"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddFixedSnapshot;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;

constexpr char kDisk[] = "drive-scsi0.img.fidx";

class SessionRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_shared<MemoryUpstream>();
    faulty_ = std::make_shared<FaultyUpstream>(memory_);
    cache_ = OpenCache(SmallCacheOptions(dir_.path(), 4 << 20));
    ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(1000), kDisk,
                                 PseudoRandomBytes(4 * 65536, 1), 65536)
                    .ok());
  }
  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> memory_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<ChunkCache> cache_;
};

TEST_F(SessionRegistryTest, ConcurrentOpensOfOneArchiveShareOneSession) {
  SessionRegistry registry(cache_.get(), SessionOptions{});
  DatastoreRef store{"store1", faulty_, nullptr};
  faulty_->HoldCalls();
  constexpr int kClients = 8;
  std::vector<absl::StatusOr<std::shared_ptr<SnapshotSession>>> sessions(
      kClients, absl::UnknownError("unset"));
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { sessions[i] = registry.Open(store, TestSnapshot(1000), kDisk); });
  }
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(20));  // let the other clients queue up behind the open
  faulty_->ReleaseCalls();
  for (std::thread& c : clients) c.join();
  for (const auto& session : sessions) {
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ(session->get(), sessions[0]->get());
  }
  EXPECT_EQ(faulty_->total_calls(), 2u);  // one manifest and one index read
  EXPECT_EQ(registry.open_sessions(), 1u);
  EXPECT_EQ(cache_->Stats().sessions_open, 1u);
}

TEST_F(SessionRegistryTest, FindOpenNeverWaitsForAnOpen) {
  SessionRegistry registry(cache_.get(), SessionOptions{});
  DatastoreRef store{"store1", faulty_, nullptr};
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(1000), kDisk), nullptr);  // not open
  faulty_->HoldCalls();
  absl::StatusOr<std::shared_ptr<SnapshotSession>> opened = absl::UnknownError("unset");
  std::thread opener([&] { opened = registry.Open(store, TestSnapshot(1000), kDisk); });
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(10)));
  // Being opened: FindOpen answers at once, while the open still hangs.
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(1000), kDisk), nullptr);
  EXPECT_EQ(faulty_->calls_in_flight(), 1);
  faulty_->ReleaseCalls();
  opener.join();
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(1000), kDisk), *opened);
  EXPECT_EQ(registry.FindOpen("store2", TestSnapshot(1000), kDisk), nullptr);
  EXPECT_EQ(faulty_->total_calls(), 2u);  // FindOpen reads nothing

  // A failed open leaves nothing to find.
  faulty_->FailNextCalls(1, absl::UnavailableError("datastore offline"));
  ASSERT_TRUE(
      AddFixedSnapshot(*memory_, TestSnapshot(2000), kDisk, PseudoRandomBytes(65536, 2), 65536)
          .ok());
  EXPECT_FALSE(registry.Open(store, TestSnapshot(2000), kDisk).ok());
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(2000), kDisk), nullptr);
}

TEST_F(SessionRegistryTest, FailedOpenIsNotRemembered) {
  SessionRegistry registry(cache_.get(), SessionOptions{});
  DatastoreRef store{"store1", faulty_, nullptr};
  faulty_->FailNextCalls(1, absl::UnavailableError("datastore offline"));
  auto failed = registry.Open(store, TestSnapshot(1000), kDisk);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ(registry.open_sessions(), 0u);
  auto retried = registry.Open(store, TestSnapshot(1000), kDisk);
  EXPECT_TRUE(retried.ok()) << retried.status();
}

TEST_F(SessionRegistryTest, DistinctArchivesAndDatastoresGetDistinctSessions) {
  ASSERT_TRUE(
      AddFixedSnapshot(*memory_, TestSnapshot(2000), kDisk, PseudoRandomBytes(65536, 2), 65536)
          .ok());
  SessionRegistry registry(cache_.get(), SessionOptions{});
  auto a = registry.Open({"store1", memory_, nullptr}, TestSnapshot(1000), kDisk);
  auto b = registry.Open({"store1", memory_, nullptr}, TestSnapshot(2000), kDisk);
  auto c = registry.Open({"store2", memory_, nullptr}, TestSnapshot(1000), kDisk);
  auto a_again = registry.Open({"store1", memory_, nullptr}, TestSnapshot(1000), kDisk);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && a_again.ok());
  EXPECT_NE(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  EXPECT_EQ(a->get(), a_again->get());
  EXPECT_EQ(registry.open_sessions(), 3u);
  EXPECT_EQ(registry.CloseAll(), 0u);  // all still held here
  a->reset();
  a_again->reset();
  EXPECT_EQ(registry.CloseAll(), 1u);
  EXPECT_EQ(registry.open_sessions(), 2u);
}

// Archives of the same shape (4 distinct chunks, the first repeated so that the hinted set pins
// it), so every session is charged the same bytes.
class SessionBudgetTest : public SessionRegistryTest {
 protected:
  void SetUp() override {
    SessionRegistryTest::SetUp();
    store_ = DatastoreRef{"store1", memory_, nullptr};
    for (int64_t time : {2000, 3000, 4000}) {
      std::string image = PseudoRandomBytes(5 * 65536, static_cast<uint64_t>(time));
      image.replace(4 * 65536, 65536, image.substr(0, 65536));
      ASSERT_TRUE(AddFixedSnapshot(*memory_, TestSnapshot(time), kDisk, image, 65536).ok());
    }
    absl::StatusOr<std::shared_ptr<SnapshotSession>> probe =
        SnapshotSession::Open(cache_.get(), store_, TestSnapshot(2000), kDisk, SessionOptions{});
    ASSERT_TRUE(probe.ok()) << probe.status();
    session_bytes_ = (*probe)->heap_bytes();
    ASSERT_GT(session_bytes_, 5u * 32);
  }
  // Room for two such sessions, not three.
  SessionOptions TwoSessions() const {
    SessionOptions options;
    options.max_open_index_bytes = 2 * session_bytes_ + session_bytes_ / 2;
    return options;
  }
  DatastoreRef store_;
  uint64_t session_bytes_ = 0;
};

TEST_F(SessionBudgetTest, OpeningBeyondTheBudgetClosesTheLeastRecentlyUsedIdleSession) {
  SessionRegistry registry(cache_.get(), TwoSessions());
  std::weak_ptr<SnapshotSession> first;
  std::weak_ptr<SnapshotSession> second;
  {
    auto a = registry.Open(store_, TestSnapshot(2000), kDisk);
    auto b = registry.Open(store_, TestSnapshot(3000), kDisk);
    ASSERT_TRUE(a.ok() && b.ok());
    first = *a;
    second = *b;
    // Both hinted sets fill in the background.
    ASSERT_TRUE(WaitFor(
        [&] { return (*a)->hinted_chunks_pinned() == 1 && (*b)->hinted_chunks_pinned() == 1; }));
  }
  EXPECT_EQ(registry.open_index_bytes(), 2 * session_bytes_);
  EXPECT_EQ(cache_->Stats().hinted_bytes, 2u * 65536);
  // The first archive is read again: the second is now the least recently used.
  ASSERT_NE(registry.FindOpen("store1", TestSnapshot(2000), kDisk), nullptr);

  auto c = registry.Open(store_, TestSnapshot(4000), kDisk);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(registry.open_sessions(), 2u);
  EXPECT_EQ(registry.open_index_bytes(), 2 * session_bytes_);
  EXPECT_FALSE(first.expired());
  EXPECT_TRUE(second.expired());  // closed and freed, its hinted pin released
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(3000), kDisk), nullptr);
  ASSERT_TRUE(WaitFor([&] { return (*c)->hinted_chunks_pinned() == 1; }));
  EXPECT_EQ(cache_->Stats().hinted_bytes, 2u * 65536);
  EXPECT_EQ(cache_->Stats().sessions_open, 2u);

  // The closed archive opens again (closing the first, now the least recently used idle one).
  c->reset();
  auto b_again = registry.Open(store_, TestSnapshot(3000), kDisk);
  ASSERT_TRUE(b_again.ok()) << b_again.status();
  EXPECT_TRUE(first.expired());
  EXPECT_EQ(registry.open_sessions(), 2u);
}

TEST_F(SessionBudgetTest, OpenIsResourceExhaustedOnlyWhenEverySessionIsInUse) {
  SessionRegistry registry(cache_.get(), TwoSessions());
  auto a = registry.Open(store_, TestSnapshot(2000), kDisk);
  auto b = registry.Open(store_, TestSnapshot(3000), kDisk);
  ASSERT_TRUE(a.ok() && b.ok());
  // Both hinted sets fill in the background: count them once they have.
  ASSERT_TRUE(WaitFor(
      [&] { return (*a)->hinted_chunks_pinned() == 1 && (*b)->hinted_chunks_pinned() == 1; }));
  const uint64_t hinted_before = cache_->Stats().hinted_bytes;

  // Both are held (reads in progress): nothing can be closed for a third.
  auto c = registry.Open(store_, TestSnapshot(4000), kDisk);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
  EXPECT_NE(c.status().message().find("max_open_index_bytes"), std::string::npos) << c.status();
  EXPECT_EQ(registry.open_sessions(), 2u);
  EXPECT_EQ(registry.open_index_bytes(), 2 * session_bytes_);
  EXPECT_EQ(cache_->Stats().sessions_open, 2u);  // the refused session is gone
  ASSERT_TRUE(WaitFor([&] { return cache_->Stats().hinted_bytes <= hinted_before; }));
  // The held sessions still serve their readers.
  EXPECT_TRUE((*a)->Read(0, 4096, absl::Now() + absl::Seconds(30)).ok());

  // One reader finishes: its session makes room.
  std::weak_ptr<SnapshotSession> released = *b;
  b->reset();
  c = registry.Open(store_, TestSnapshot(4000), kDisk);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(released.expired());
  EXPECT_EQ(registry.FindOpen("store1", TestSnapshot(2000), kDisk), *a);
}

TEST_F(SessionBudgetTest, IndexLargerThanTheWholeBudgetIsRefused) {
  SessionOptions options;
  options.max_open_index_bytes = session_bytes_ - 1;
  SessionRegistry registry(cache_.get(), options);
  auto a = registry.Open(store_, TestSnapshot(2000), kDisk);
  ASSERT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted) << a.status();
  EXPECT_NE(a.status().message().find("raise"), std::string::npos) << a.status();
  EXPECT_EQ(registry.open_sessions(), 0u);
  EXPECT_EQ(registry.open_index_bytes(), 0u);
}

TEST_F(SessionBudgetTest, IdleCloseReturnsTheBytes) {
  SessionRegistry registry(cache_.get(), TwoSessions());
  ASSERT_TRUE(registry.Open(store_, TestSnapshot(2000), kDisk).ok());
  ASSERT_TRUE(registry.Open(store_, TestSnapshot(3000), kDisk).ok());
  EXPECT_EQ(registry.CloseAll(), 2u);
  EXPECT_EQ(registry.open_index_bytes(), 0u);
  EXPECT_TRUE(registry.Open(store_, TestSnapshot(4000), kDisk).ok());
  EXPECT_EQ(registry.open_index_bytes(), session_bytes_);
}

}  // namespace
}  // namespace chunkcache
