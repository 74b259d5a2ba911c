#include "cache/internal/fetch_scheduler.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace chunkcache::internal {

FetchScheduler::FetchScheduler(int workers, size_t max_queued_demand, size_t max_queued_prefetch,
                               RunFetch run)
    : max_queued_demand_(max_queued_demand),
      max_queued_prefetch_(max_queued_prefetch),
      run_(std::move(run)) {
  workers_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

FetchScheduler::~FetchScheduler() { Stop(); }

absl::Status FetchScheduler::Enqueue(std::shared_ptr<PendingFetch> fetch, FetchPriority priority) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("the chunk cache is shutting down");
  fetch->enqueued_at = absl::Now();
  if (priority == FetchPriority::kDemand) {
    if (queued_demand_ >= max_queued_demand_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many chunk fetches queued (", queued_demand_,
                       " waiting for an upstream slot); retry later"));
    }
    ++queued_demand_;
    demand_.push_back(std::move(fetch));
    work_or_stop_.notify_one();
  } else {
    if (queued_prefetch_ >= max_queued_prefetch_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("prefetch queue full (", queued_prefetch_, " chunks)"));
    }
    ++queued_prefetch_;
    prefetch_.push_back(std::move(fetch));
    work_or_stop_.notify_one();
  }
  return absl::OkStatus();
}

void FetchScheduler::Promote(const std::shared_ptr<PendingFetch>& fetch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || fetch->scheduler_taken || fetch->scheduler_promoted) return;
  fetch->scheduler_promoted = true;
  --queued_prefetch_;
  ++queued_demand_;
  demand_.push_back(fetch);
}

bool FetchScheduler::HasWorkOrStopping() const {
  return stopping_ || queued_demand_ > 0 || queued_prefetch_ > 0;
}

std::shared_ptr<PendingFetch> FetchScheduler::PopLocked() {
  for (auto* queue : {&demand_, &prefetch_}) {
    while (!queue->empty()) {
      std::shared_ptr<PendingFetch> fetch = std::move(queue->front());
      queue->pop_front();
      if (fetch->scheduler_taken) continue;  // the other copy of a promoted prefetch ran
      fetch->scheduler_taken = true;
      if (fetch->scheduler_promoted || queue == &demand_) {
        --queued_demand_;
      } else {
        --queued_prefetch_;
      }
      return fetch;
    }
  }
  return nullptr;
}

void FetchScheduler::WorkerLoop() {
  while (true) {
    std::shared_ptr<PendingFetch> fetch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_or_stop_.wait(lock,
                         [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return HasWorkOrStopping(); });
      if (stopping_) return;
      fetch = PopLocked();
      if (fetch == nullptr) continue;
      ++running_;
    }
    run_(std::move(fetch));
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
}

std::vector<std::shared_ptr<PendingFetch>> FetchScheduler::Stop() {
  std::vector<std::shared_ptr<PendingFetch>> never_ran;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return never_ran;
    stopping_ = true;
    work_or_stop_.notify_all();
  }
  for (std::thread& worker : workers_) worker.join();
  std::lock_guard<std::mutex> lock(mu_);
  while (std::shared_ptr<PendingFetch> fetch = PopLocked()) never_ran.push_back(std::move(fetch));
  return never_ran;
}

FetchScheduler::Counts FetchScheduler::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Counts{running_, queued_demand_, queued_prefetch_};
}

}  // namespace chunkcache::internal
