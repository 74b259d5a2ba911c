#include "client/lib/stall_watchdog.h"

#include <system_error>

namespace chunkcache {

StallWatchdog::StallWatchdog(grpc::ClientContext* context, std::chrono::milliseconds timeout)
    : context_(context), timeout_(timeout), last_progress_(std::chrono::steady_clock::now()) {
  try {
    thread_ = std::thread([this] { Watch(); });
  } catch (const std::system_error&) {
    // started() reports it.
  }
}

StallWatchdog::~StallWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StallWatchdog::NoteProgress() {
  std::lock_guard<std::mutex> lock(mutex_);
  last_progress_ = std::chrono::steady_clock::now();
}

bool StallWatchdog::fired() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fired_;
}

void StallWatchdog::Watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const auto give_up_at = last_progress_ + timeout_;
    if (wake_.wait_until(lock, give_up_at, [this] { return stopping_; })) return;
    if (std::chrono::steady_clock::now() >= last_progress_ + timeout_) {
      fired_ = true;
      context_->TryCancel();
      return;
    }
  }
}

}  // namespace chunkcache
