// FaultyUpstream: every injected fault, the bandwidth cap and the concurrency observations.
#include "upstream/faulty_upstream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "format/blob.h"
#include "tests/testing/test_env.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

class FaultyUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ChunkDigest> a = memory_->AddChunkData(testing::PseudoRandomBytes(4096, 1));
    absl::StatusOr<ChunkDigest> b = memory_->AddChunkData(testing::PseudoRandomBytes(4096, 2));
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = *a;
    b_ = *b;
    snapshot_ = *SnapshotName::Parse("vm/100/2026-01-01T00:00:00Z");
    ASSERT_TRUE(memory_->AddSnapshotFile(snapshot_, "index.json.blob", "manifest").ok());
  }

  std::string Stored(const ChunkDigest& digest) { return *memory_->ReadChunk(digest); }

  std::shared_ptr<MemoryUpstream> memory_ = std::make_shared<MemoryUpstream>();
  FaultyUpstream faulty_{memory_};
  ChunkDigest a_, b_;
  SnapshotName snapshot_;
};

TEST_F(FaultyUpstreamTest, WithoutFaultsItIsTransparent) {
  EXPECT_EQ(*faulty_.ReadChunk(a_), Stored(a_));
  EXPECT_EQ(*faulty_.ReadSnapshotFile(snapshot_, "index.json.blob"), "manifest");
  EXPECT_EQ(faulty_.ListSnapshots()->size(), 1u);
  EXPECT_TRUE(faulty_.CheckReadable().ok());
  EXPECT_EQ(faulty_.Describe(), "faulty memory");
  EXPECT_EQ(faulty_.total_calls(), 2u);
  EXPECT_EQ(faulty_.bytes_returned(), Stored(a_).size() + 8);
}

TEST_F(FaultyUpstreamTest, LatencyDelaysEveryDataCall) {
  faulty_.SetLatency(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  ASSERT_TRUE(faulty_.ReadChunk(a_).ok());
  ASSERT_TRUE(faulty_.ReadSnapshotFile(snapshot_, "index.json.blob").ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
}

TEST_F(FaultyUpstreamTest, FailNextCallsFailsExactlyThatMany) {
  faulty_.FailNextCalls(2, absl::UnavailableError("injected"));
  EXPECT_TRUE(absl::IsUnavailable(faulty_.ReadChunk(a_).status()));
  EXPECT_TRUE(absl::IsUnavailable(faulty_.ReadSnapshotFile(snapshot_, "index.json.blob").status()));
  EXPECT_TRUE(faulty_.ReadChunk(a_).ok());
  // Failed calls never reached the wrapped upstream.
  EXPECT_EQ(memory_->ChunkReadCount(a_), 1u);
}

TEST_F(FaultyUpstreamTest, FailChunkFailsOnlyThatDigestUntilCleared) {
  faulty_.FailChunk(a_, absl::DeadlineExceededError("slow disk"));
  EXPECT_TRUE(absl::IsDeadlineExceeded(faulty_.ReadChunk(a_).status()));
  EXPECT_TRUE(absl::IsDeadlineExceeded(faulty_.ReadChunk(a_).status()));
  EXPECT_TRUE(faulty_.ReadChunk(b_).ok());
  faulty_.ClearChunkFailure(a_);
  EXPECT_TRUE(faulty_.ReadChunk(a_).ok());
}

TEST_F(FaultyUpstreamTest, DownFailsEveryCallUntilUp) {
  faulty_.SetDown(absl::UnavailableError("upstream down"));
  EXPECT_TRUE(absl::IsUnavailable(faulty_.ReadChunk(a_).status()));
  EXPECT_TRUE(absl::IsUnavailable(faulty_.ListSnapshots().status()));
  EXPECT_TRUE(absl::IsUnavailable(faulty_.CheckReadable()));
  faulty_.SetDown(absl::OkStatus());
  EXPECT_TRUE(faulty_.ReadChunk(a_).ok());
  EXPECT_TRUE(faulty_.CheckReadable().ok());
}

TEST_F(FaultyUpstreamTest, CorruptedChunksDifferInOneByteAndFailToDecode) {
  faulty_.CorruptChunk(a_);
  absl::StatusOr<std::string> corrupt = faulty_.ReadChunk(a_);
  ASSERT_TRUE(corrupt.ok());
  const std::string original = Stored(a_);
  ASSERT_EQ(corrupt->size(), original.size());
  int differing = 0;
  for (size_t i = 0; i < original.size(); ++i) differing += (*corrupt)[i] != original[i];
  EXPECT_EQ(differing, 1);
  EXPECT_TRUE(absl::IsDataLoss(DecodeBlob(*corrupt, {.expected_digest = a_}).status()));
  EXPECT_EQ(*faulty_.ReadChunk(b_), Stored(b_));
  faulty_.ClearChunkCorruption(a_);
  EXPECT_EQ(*faulty_.ReadChunk(a_), original);

  faulty_.CorruptNextChunks(1);
  EXPECT_NE(*faulty_.ReadChunk(b_), Stored(b_));
  EXPECT_EQ(*faulty_.ReadChunk(b_), Stored(b_));
}

TEST_F(FaultyUpstreamTest, HeldCallsWaitForReleaseAndAreCountedInFlight) {
  faulty_.HoldCalls();
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (faulty_.ReadChunk(a_).ok()) ++finished;
    });
  }
  ASSERT_TRUE(faulty_.WaitForHeldCalls(4, absl::Seconds(10)));
  EXPECT_EQ(faulty_.calls_in_flight(), 4);
  EXPECT_EQ(finished.load(), 0);
  faulty_.ReleaseCalls();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(finished.load(), 4);
  EXPECT_EQ(faulty_.calls_in_flight(), 0);
  EXPECT_EQ(faulty_.max_calls_in_flight(), 4);
  faulty_.ResetMaxCallsInFlight();
  EXPECT_EQ(faulty_.max_calls_in_flight(), 0);
}

TEST_F(FaultyUpstreamTest, WaitForHeldCallsTimesOut) {
  faulty_.HoldCalls();
  EXPECT_FALSE(faulty_.WaitForHeldCalls(1, absl::Milliseconds(20)));
}

TEST_F(FaultyUpstreamTest, BandwidthCapIsSharedByConcurrentCalls) {
  const std::string big(256 * 1024, 'b');
  const ChunkDigest digest = Sha256(big);
  memory_->AddChunk(digest, big);
  faulty_.SetBandwidthLimit(4 * 1024 * 1024);  // 4 MiB/s: 1 MiB in all takes 250 ms
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE(faulty_.ReadChunk(digest).ok()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(240));
  EXPECT_EQ(faulty_.bytes_returned(), 4 * big.size());
  EXPECT_GE(faulty_.max_calls_in_flight(), 2);

  // A burst allowance lets an idle upstream send that much at once.
  faulty_.SetBandwidthLimit(1024, /*burst_bytes=*/big.size());
  const absl::Time burst_start = absl::Now();
  EXPECT_TRUE(faulty_.ReadChunk(digest).ok());
  EXPECT_LT(absl::Now() - burst_start, absl::Seconds(5));
}

}  // namespace
}  // namespace chunkcache
