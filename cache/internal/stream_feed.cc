#include "cache/internal/stream_feed.h"

#include <algorithm>

namespace chunkcache {

ReaderStream::ReaderStream(std::shared_ptr<internal::LiveStream> live) : live_(std::move(live)) {}

ReaderStream& ReaderStream::operator=(ReaderStream&& other) noexcept {
  if (this != &other) {
    Close();
    live_ = std::move(other.live_);
  }
  return *this;
}

void ReaderStream::MoveTo(uint64_t cursor) {
  if (live_ != nullptr) live_->cursor.store(cursor, std::memory_order_relaxed);
}

void ReaderStream::Close() {
  if (live_ == nullptr) return;
  live_->closed.store(true, std::memory_order_release);
  live_.reset();
}

namespace internal {
namespace {

// The weight of the newest sample in a stream's smoothed speed.
constexpr double kSpeedSmoothing = 0.5;
// A stream that stopped still has a future, only a distant one: its speed never reaches 0.
constexpr double kMinSpeed = 0.01;

}  // namespace

StreamFeed::StreamFeed(size_t max_open)
    : start_(std::chrono::steady_clock::now()), max_open_(max_open) {}

double StreamFeed::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

ReaderStream StreamFeed::Open(std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                              StreamDirection direction, uint64_t end) {
  if (order == nullptr) return ReaderStream();
  std::lock_guard<std::mutex> lock(mu_);
  // streams_ holds the open streams and those closed since the last Apply: a short list, and
  // opening is rare (a reader's first sequential reads).
  const size_t open = static_cast<size_t>(
      std::count_if(streams_.begin(), streams_.end(), [](const std::shared_ptr<LiveStream>& live) {
        return !live->closed.load(std::memory_order_acquire);
      }));
  if (open >= max_open_) return ReaderStream();
  auto live = std::make_shared<LiveStream>(next_id_++, std::move(order), cursor, direction, end);
  streams_.push_back(live);
  return ReaderStream(std::move(live));
}

size_t StreamFeed::open_streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(
      std::count_if(streams_.begin(), streams_.end(), [](const std::shared_ptr<LiveStream>& live) {
        return !live->closed.load(std::memory_order_acquire);
      }));
}

void StreamFeed::AddHintedUses(const ChunkDigest& key, uint32_t uses) {
  if (uses == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  hinted_uses_.emplace_back(key, uses);
}

void StreamFeed::Apply(StreamKnowledge& knowledge) {
  std::vector<std::pair<ChunkDigest, uint32_t>> hinted;
  applying_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_.empty() && hinted_uses_.empty()) return;
    hinted.swap(hinted_uses_);
    applying_ = streams_;
    // Closed streams leave the list now; this Apply tells the policy.
    std::erase_if(streams_, [](const std::shared_ptr<LiveStream>& live) {
      return live->closed.load(std::memory_order_acquire);
    });
  }
  const double now = Now();
  knowledge.SetTime(now);
  for (const auto& [key, uses] : hinted) knowledge.AddHintedUses(key, uses);
  // Opens and moves first, closes after: a reader handing over from an old stream to a new one
  // keeps its order open in the policy, whose index of the order is then not rebuilt.
  for (const std::shared_ptr<LiveStream>& live : applying_) {
    if (live->closed.load(std::memory_order_acquire)) continue;
    const uint64_t cursor = live->cursor.load(std::memory_order_relaxed);
    if (!live->opened) {
      live->opened = true;
      live->told_cursor = live->sample_cursor = cursor;
      live->sample_at = now;
      live->speed = kInitialSpeed;
      knowledge.OpenStream(live->id, live->order, cursor, live->direction, live->speed);
      if (live->end != kNoEnd) knowledge.SetStreamRange(live->id, live->begin, live->end);
      continue;
    }
    if (cursor != live->told_cursor) {
      knowledge.MoveStream(live->id, cursor);
      live->told_cursor = cursor;
    }
    const double elapsed = now - live->sample_at;
    if (elapsed >= kMinSampleSeconds) {
      const uint64_t moved = cursor > live->sample_cursor ? cursor - live->sample_cursor
                                                          : live->sample_cursor - cursor;
      const double sample = static_cast<double>(moved) / elapsed;
      live->speed =
          std::max(kMinSpeed, kSpeedSmoothing * sample + (1 - kSpeedSmoothing) * live->speed);
      knowledge.SetStreamSpeed(live->id, live->speed);
      live->sample_cursor = cursor;
      live->sample_at = now;
    }
  }
  for (const std::shared_ptr<LiveStream>& live : applying_) {
    // A stream closed after this Apply's first pass is closed at the next one.
    if (live->opened && live->closed.load(std::memory_order_acquire) && !live->told_closed) {
      knowledge.CloseStream(live->id);
      live->told_closed = true;
    }
  }
  applying_.clear();
}

}  // namespace internal
}  // namespace chunkcache
