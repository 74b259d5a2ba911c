#include "cache/internal/fetch_scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace chunkcache::internal {

using QueueState = PendingFetch::QueueState;

namespace {

// With a substituted clock (tests) the real time of a window's end is not known: workers
// whose prefetches wait for one look again this often.
constexpr absl::Duration kMaxWindowSleep = absl::Milliseconds(20);

}  // namespace

FetchScheduler::FetchScheduler(int workers, size_t max_queued_demand, size_t max_queued_prefetch,
                               ReadaheadYield yield, RunFetch run)
    : max_queued_demand_(max_queued_demand),
      max_queued_prefetch_(max_queued_prefetch),
      readahead_under_demand_(yield.under_demand),
      window_fetch_times_(std::max(0.0, yield.window_fetch_times)),
      clock_(std::move(yield.clock)),
      full_readahead_depth_(static_cast<size_t>(std::max(workers, 1))),
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

void FetchScheduler::AddWaitingReaderLocked(PendingFetch& fetch) {
  if (fetch.presses) return;
  fetch.presses = true;
  ++links_.try_emplace(fetch.link, Link{.depth = full_readahead_depth_}).first->second.waiting;
}

absl::Status FetchScheduler::Enqueue(std::shared_ptr<PendingFetch> fetch, FetchPriority priority,
                                     const FetchOwner& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("the chunk cache is shutting down");
  fetch->enqueued_at = absl::Now();
  fetch->link = owner.link;
  if (priority == FetchPriority::kDemand) {
    if (absl::Status room = DemandRoomLocked(owner.key); !room.ok()) return room;
    if (owner.reader_waits) AddWaitingReaderLocked(*fetch);
    PushDemandLocked(std::move(fetch), owner.key);
  } else {
    if (prefetch_.size() >= max_queued_prefetch_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("prefetch queue full (", prefetch_.size(), " chunks)"));
    }
    fetch->queue_state = QueueState::kPrefetch;
    prefetch_.push_back(std::move(fetch));
    prefetches_blocked_ = false;  // it may read from a link with room
    work_or_stop_.notify_one();
  }
  return absl::OkStatus();
}

absl::Status FetchScheduler::Promote(const std::shared_ptr<PendingFetch>& fetch,
                                     const FetchQueueKey& key, bool reader_waits) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::OkStatus();
  if (fetch->queue_state != QueueState::kPrefetch) {
    // Queued as demand or running: a reader waiting for it now holds readahead back until it
    // is done (a prefetch already running keeps running). A fetch whose worker finished with
    // it is no longer in the cache's pending map, so nobody can join it any more.
    if (reader_waits && fetch->queue_state != QueueState::kNotQueued) {
      AddWaitingReaderLocked(*fetch);
    }
    return absl::OkStatus();
  }
  if (absl::Status room = DemandRoomLocked(key); !room.ok()) return room;
  // The prefetch queue is short (max_queued_prefetch): a linear search is cheap.
  auto queued = std::find(prefetch_.begin(), prefetch_.end(), fetch);
  if (queued != prefetch_.end()) prefetch_.erase(queued);
  if (reader_waits) AddWaitingReaderLocked(*fetch);
  PushDemandLocked(fetch, key);
  return absl::OkStatus();
}

bool FetchScheduler::HasWorkOrStopping() const {
  return stopping_ || queued_demand_ > 0 || (!prefetch_.empty() && !prefetches_blocked_);
}

bool FetchScheduler::PrefetchMayStartLocked(const PendingFetch& fetch, absl::Time now) {
  auto found = links_.find(fetch.link);
  if (found == links_.end()) return true;  // at rest: nothing running, nobody waiting
  Link& link = found->second;
  if (link.waiting > 0 || now < link.yield_until) {
    link.depth = std::min(link.depth, readahead_under_demand_);
  } else if (link.depth == 0) {
    // The window is over and no fetch may complete on the link to grow the depth: start again
    // from one (see the header).
    link.depth = 1;
  }
  return link.running_prefetch < link.depth;
}

absl::Time FetchScheduler::NextWindowEndLocked(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [unused, link] : links_) {
    if (link.waiting == 0 && link.yield_until > now) next = std::min(next, link.yield_until);
  }
  return next;
}

std::shared_ptr<PendingFetch> FetchScheduler::PopLocked(bool any) {
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
  } else {
    const absl::Time now = Now();
    auto next = prefetch_.begin();
    while (next != prefetch_.end() && !any && !PrefetchMayStartLocked(**next, now)) ++next;
    if (next == prefetch_.end()) {
      if (!prefetch_.empty()) {
        ++prefetches_held_back_;
        prefetches_blocked_ = true;
        blocked_until_ = NextWindowEndLocked(now);
      }
      return nullptr;
    }
    fetch = std::move(*next);
    prefetch_.erase(next);
    fetch->runs_as_prefetch = true;
    ++running_prefetch_;
    Link& link =
        links_.try_emplace(fetch->link, Link{.depth = full_readahead_depth_}).first->second;
    ++link.running_prefetch;
  }
  fetch->queue_state = QueueState::kTaken;
  return fetch;
}

void FetchScheduler::FinishLocked(PendingFetch& fetch) {
  auto found = links_.find(fetch.link);
  if (found == links_.end()) return;  // it neither ran as a prefetch nor had readers waiting
  Link& link = found->second;
  if (fetch.runs_as_prefetch) {
    fetch.runs_as_prefetch = false;
    --link.running_prefetch;
    --running_prefetch_;
  }
  const absl::Time now = Now();
  if (fetch.presses) {
    fetch.presses = false;
    --link.waiting;
    // Stop() hands back fetches that never started: they say nothing about the link.
    if (fetch.started_at != absl::Time()) {
      const absl::Duration took = now - fetch.started_at;
      auto [average, first] = random_fetch_time_.try_emplace(fetch.link, took);
      if (!first) average->second += (took - average->second) / 4;
      link.yield_until = std::max(link.yield_until, now + average->second * window_fetch_times_);
    }
  }
  // Every fetch done on the link while no random reader waits, nor its window runs, doubles
  // its readahead depth.
  const bool yielding = link.waiting > 0 || now < link.yield_until;
  if (!yielding && link.depth < full_readahead_depth_) {
    link.depth = std::min(full_readahead_depth_, std::max<size_t>(2 * link.depth, 1));
  }
  if (link.running_prefetch == 0 && !yielding && link.depth >= full_readahead_depth_) {
    links_.erase(found);
  }
  // A held-back prefetch may start now.
  if (prefetches_blocked_) {
    prefetches_blocked_ = false;
    work_or_stop_.notify_all();
  }
}

void FetchScheduler::WorkerLoop() {
  while (true) {
    std::shared_ptr<PendingFetch> fetch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!HasWorkOrStopping()) {
        if (!prefetches_blocked_ || blocked_until_ == absl::InfiniteFuture()) {
          work_or_stop_.wait(lock);
          continue;
        }
        // Held back by a window only: look again when it ends (or, on a substituted clock, every
        // kMaxWindowSleep).
        const absl::Duration left = blocked_until_ - Now();
        if (left > absl::ZeroDuration() &&
            work_or_stop_.wait_for(lock, absl::ToChronoNanoseconds(
                                             clock_ ? std::min(left, kMaxWindowSleep) : left)) ==
                std::cv_status::no_timeout) {
          continue;
        }
        prefetches_blocked_ = false;
      }
      if (stopping_) return;
      fetch = PopLocked();
      if (fetch == nullptr) continue;
      fetch->started_at = Now();
      ++running_;
    }
    run_(fetch);  // a copy: the worker's reference keeps the fetch for FinishLocked
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    FinishLocked(*fetch);
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
  while (std::shared_ptr<PendingFetch> fetch = PopLocked(/*any=*/true)) {
    FinishLocked(*fetch);
    never_ran.push_back(std::move(fetch));
  }
  return never_ran;
}

FetchScheduler::Counts FetchScheduler::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Counts{running_, running_prefetch_, queued_demand_, prefetch_.size(),
                prefetches_held_back_};
}

}  // namespace chunkcache::internal
