#include "cache/internal/fetch_scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace chunkcache::internal {

using QueueState = PendingFetch::QueueState;

FetchScheduler::FetchScheduler(int workers, size_t max_queued_demand, size_t max_queued_prefetch,
                               RunFetch run)
    : max_queued_demand_(max_queued_demand),
      max_queued_prefetch_(max_queued_prefetch),
      run_(std::move(run)) {
  workers_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

FetchScheduler::~FetchScheduler() { Stop(); }

absl::Status FetchScheduler::DemandRoomLocked(const FetchQueueKey& key) const {
  if (queued_demand_ >= max_queued_demand_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many chunk fetches queued (", queued_demand_,
                     " waiting for an upstream slot); retry later"));
  }
  auto own = demand_.find(key);
  if (own == demand_.end()) return absl::OkStatus();  // a key with nothing queued always fits
  // The keys with queued fetches, this one included, and one more: the share leaves room for
  // a key that has nothing queued yet.
  const size_t share = std::max<size_t>(1, max_queued_demand_ / (demand_.size() + 1));
  if (own->second.size() >= share) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this client already has ", own->second.size(),
        " chunk fetches of this archive queued, its share of the ", max_queued_demand_,
        " queue slots while ", demand_.size() - 1, " other readers wait; retry later"));
  }
  return absl::OkStatus();
}

void FetchScheduler::PushDemandLocked(std::shared_ptr<PendingFetch> fetch,
                                      const FetchQueueKey& key) {
  fetch->queue_state = QueueState::kDemand;
  auto [queue, inserted] = demand_.try_emplace(key);
  if (inserted) demand_turns_.push_back(key);
  queue->second.push_back(std::move(fetch));
  ++queued_demand_;
  work_or_stop_.notify_one();
}

absl::Status FetchScheduler::Enqueue(std::shared_ptr<PendingFetch> fetch, FetchPriority priority,
                                     const FetchQueueKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("the chunk cache is shutting down");
  fetch->enqueued_at = absl::Now();
  if (priority == FetchPriority::kDemand) {
    if (absl::Status room = DemandRoomLocked(key); !room.ok()) return room;
    PushDemandLocked(std::move(fetch), key);
  } else {
    if (prefetch_.size() >= max_queued_prefetch_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("prefetch queue full (", prefetch_.size(), " chunks)"));
    }
    fetch->queue_state = QueueState::kPrefetch;
    prefetch_.push_back(std::move(fetch));
    work_or_stop_.notify_one();
  }
  return absl::OkStatus();
}

absl::Status FetchScheduler::Promote(const std::shared_ptr<PendingFetch>& fetch,
                                     const FetchQueueKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || fetch->queue_state != QueueState::kPrefetch) return absl::OkStatus();
  if (absl::Status room = DemandRoomLocked(key); !room.ok()) return room;
  // The prefetch queue is short (max_queued_prefetch): a linear search is cheap.
  auto queued = std::find(prefetch_.begin(), prefetch_.end(), fetch);
  if (queued != prefetch_.end()) prefetch_.erase(queued);
  PushDemandLocked(fetch, key);
  return absl::OkStatus();
}

bool FetchScheduler::HasWorkOrStopping() const {
  return stopping_ || queued_demand_ > 0 || !prefetch_.empty();
}

std::shared_ptr<PendingFetch> FetchScheduler::PopLocked() {
  std::shared_ptr<PendingFetch> fetch;
  if (!demand_turns_.empty()) {
    const FetchQueueKey key = demand_turns_.front();
    demand_turns_.pop_front();
    auto queue = demand_.find(key);
    fetch = std::move(queue->second.front());
    queue->second.pop_front();
    if (queue->second.empty()) {
      demand_.erase(queue);
    } else {
      demand_turns_.push_back(key);  // its next fetch waits for every other key's turn
    }
    --queued_demand_;
  } else if (!prefetch_.empty()) {
    fetch = std::move(prefetch_.front());
    prefetch_.pop_front();
  } else {
    return nullptr;
  }
  fetch->queue_state = QueueState::kTaken;
  return fetch;
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
  return Counts{running_, queued_demand_, prefetch_.size()};
}

}  // namespace chunkcache::internal
