#include "service/blocking_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace chunkcache {

BlockingPool::BlockingPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  threads = std::max<size_t>(threads, 1);
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

absl::Status BlockingPool::Enqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (queue_.size() >= max_queued_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many calls wait for the upstream (", max_queued_, " queued behind ", workers_.size(),
          " upstream_call_threads; max_queued_upstream_calls); retry later"));
    }
    queue_.push_back(std::move(job));
  }
  changed_.notify_one();
  return absl::OkStatus();
}

void BlockingPool::Shutdown() {
  std::call_once(shut_down_, [this] {
    std::deque<Job> abandoned;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      abandoned.swap(queue_);
    }
    changed_.notify_all();
    for (Job& job : abandoned) job(/*run=*/false);
    for (std::thread& worker : workers_) worker.join();
  });
}

void BlockingPool::WorkerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(
          lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and Shutdown took what was queued
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job(/*run=*/true);
  }
}

}  // namespace chunkcache
