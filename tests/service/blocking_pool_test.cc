// BlockingPool, with CancellableOperation over its tickets as the service's reactors use them:
// work runs on the workers, a full queue refuses at once, cancelled work is skipped, shutdown
// answers the queued work and waits for the running work; racing Cancel against delivery
// delivers at most once, and exactly one side finishes the call. No gRPC: labelled tsan.
#include "service/blocking_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "service/cancellable_operation.h"

namespace chunkcache {
namespace {

using IntOperation = CancellableOperation<int, BlockingTicket<int>>;

// A gate that work can wait at until the test opens it, and that counts who waits.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    --waiting_;
  }
  void WaitForWaiting(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return waiting_ >= count; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
  int waiting_ = 0;
};

// Starts `work` on `pool` as a reactor does; the result arrives in `*result`.
std::shared_ptr<IntOperation> Start(BlockingPool& pool,
                                    absl::AnyInvocable<absl::StatusOr<int>()> work,
                                    std::promise<absl::StatusOr<int>>* result) {
  auto operation = std::make_shared<IntOperation>(
      [result](absl::StatusOr<int> value) { result->set_value(std::move(value)); });
  operation->Start([&](IntOperation::Callback callback) {
    return pool.Submit<int>(std::move(work), std::move(callback));
  });
  return operation;
}

TEST(BlockingPoolTest, RunsWorkOnWorkersAndRefusesWhenTheQueueIsFull) {
  BlockingPool pool(/*threads=*/1, /*max_queued=*/1);
  Gate gate;
  std::promise<absl::StatusOr<int>> running, queued, refused;
  const std::thread::id test_thread = std::this_thread::get_id();
  std::atomic<bool> ran_elsewhere{false};
  Start(
      pool,
      [&]() -> absl::StatusOr<int> {
        ran_elsewhere = std::this_thread::get_id() != test_thread;
        gate.Wait();
        return 1;
      },
      &running);
  gate.WaitForWaiting(1);  // the only worker is busy
  Start(
      pool, [] { return absl::StatusOr<int>(2); }, &queued);
  Start(
      pool, [] { return absl::StatusOr<int>(3); }, &refused);
  // Refused inline: no worker was needed to answer.
  std::future<absl::StatusOr<int>> refused_result = refused.get_future();
  ASSERT_EQ(refused_result.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(refused_result.get().status().code(), absl::StatusCode::kResourceExhausted);
  gate.Open();
  EXPECT_EQ(*running.get_future().get(), 1);
  EXPECT_EQ(*queued.get_future().get(), 2);
  EXPECT_TRUE(ran_elsewhere);
}

TEST(BlockingPoolTest, CancelledWorkIsSkippedAndItsCallbackNeverRuns) {
  BlockingPool pool(/*threads=*/1, /*max_queued=*/4);
  Gate gate;
  std::promise<absl::StatusOr<int>> running, cancelled;
  Start(
      pool,
      [&]() -> absl::StatusOr<int> {
        gate.Wait();
        return 1;
      },
      &running);
  gate.WaitForWaiting(1);
  std::atomic<bool> cancelled_work_ran{false};
  std::shared_ptr<IntOperation> operation = Start(
      pool,
      [&]() -> absl::StatusOr<int> {
        cancelled_work_ran = true;
        return 2;
      },
      &cancelled);
  EXPECT_TRUE(operation->Cancel());
  EXPECT_FALSE(operation->Cancel());  // once
  gate.Open();
  EXPECT_EQ(*running.get_future().get(), 1);
  pool.Shutdown();  // the queue has been worked off
  EXPECT_FALSE(cancelled_work_ran);
  EXPECT_EQ(cancelled.get_future().wait_for(std::chrono::seconds(0)), std::future_status::timeout);
}

TEST(BlockingPoolTest, ShutdownAnswersQueuedWorkAndWaitsForRunningWork) {
  auto pool = std::make_unique<BlockingPool>(/*threads=*/1, /*max_queued=*/4);
  Gate gate;
  std::promise<absl::StatusOr<int>> running, queued, late;
  std::atomic<bool> running_finished{false};
  Start(
      *pool,
      [&]() -> absl::StatusOr<int> {
        gate.Wait();
        running_finished = true;
        return 1;
      },
      &running);
  gate.WaitForWaiting(1);
  Start(
      *pool, [] { return absl::StatusOr<int>(2); }, &queued);
  std::atomic<bool> shut_down{false};
  std::thread shutdown([&] {
    pool->Shutdown();
    shut_down = true;
  });
  // The queued work is answered while the running work still waits, and Shutdown waits too.
  EXPECT_EQ(queued.get_future().get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(shut_down);
  gate.Open();
  shutdown.join();
  EXPECT_TRUE(running_finished);
  EXPECT_EQ(*running.get_future().get(), 1);
  // After shutdown, work is refused inline.
  Start(
      *pool, [] { return absl::StatusOr<int>(3); }, &late);
  EXPECT_EQ(late.get_future().get().status().code(), absl::StatusCode::kUnavailable);
}

TEST(BlockingPoolTest, CancelRacingDeliveryFinishesEachCallExactlyOnce) {
  BlockingPool pool(/*threads=*/4, /*max_queued=*/4096);
  constexpr int kCalls = 2000;
  std::atomic<int> delivered{0};
  std::atomic<int> cancelled{0};
  std::vector<std::shared_ptr<IntOperation>> operations;
  operations.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    auto operation = std::make_shared<IntOperation>([&delivered](absl::StatusOr<int> value) {
      EXPECT_TRUE(value.ok());
      delivered.fetch_add(1);
    });
    operation->Start([&](IntOperation::Callback callback) {
      return pool.Submit<int>([i] { return absl::StatusOr<int>(i); }, std::move(callback));
    });
    operations.push_back(std::move(operation));
    if (i % 2 == 1 && operations[i - 1]->Cancel()) cancelled.fetch_add(1);
  }
  for (int i = 0; i < kCalls; i += 2) {
    if (operations[i + 1]->Cancel()) cancelled.fetch_add(1);
  }
  pool.Shutdown();
  EXPECT_EQ(delivered.load() + cancelled.load(), kCalls);
}

}  // namespace
}  // namespace chunkcache
