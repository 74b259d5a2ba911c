// SessionRegistry: shared sessions, coalesced opens, failures not remembered, FindOpen.
#include "cache/session_registry.h"

#include <memory>
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

}  // namespace
}  // namespace chunkcache
