#include "upstream/faulty_upstream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace chunkcache {
namespace {

// An injected failure must fail: an OK status is turned into a generic error rather than
// handed to StatusOr (where it would be invalid).
absl::Status AsFailure(absl::Status status) {
  if (!status.ok()) return status;
  return absl::UnknownError("injected failure (configured with an OK status)");
}

}  // namespace

FaultyUpstream::FaultyUpstream(std::shared_ptr<Upstream> inner) : inner_(std::move(inner)) {}

FaultyUpstream::~FaultyUpstream() { ReleaseCalls(); }

void FaultyUpstream::SetLatency(absl::Duration per_call) {
  std::unique_lock<std::mutex> lock(mu_);
  latency_ = per_call;
}

void FaultyUpstream::SetBandwidthLimit(uint64_t bytes_per_second, uint64_t burst_bytes) {
  std::lock_guard<std::mutex> lock(bucket_mu_);
  bytes_per_second_ = bytes_per_second;
  burst_bytes_ = static_cast<double>(burst_bytes);
  tokens_ = burst_bytes_;
  last_refill_ = absl::Now();
}

void FaultyUpstream::FailNextCalls(int count, absl::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  fail_next_count_ = count;
  fail_next_status_ = AsFailure(std::move(status));
}

void FaultyUpstream::FailChunk(const ChunkDigest& digest, absl::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  failing_chunks_[digest] = AsFailure(std::move(status));
}

void FaultyUpstream::ClearChunkFailure(const ChunkDigest& digest) {
  std::unique_lock<std::mutex> lock(mu_);
  failing_chunks_.erase(digest);
}

void FaultyUpstream::SetDown(absl::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  down_status_ = std::move(status);
}

void FaultyUpstream::CorruptChunk(const ChunkDigest& digest) {
  std::unique_lock<std::mutex> lock(mu_);
  corrupt_chunks_.insert(digest);
}

void FaultyUpstream::ClearChunkCorruption(const ChunkDigest& digest) {
  std::unique_lock<std::mutex> lock(mu_);
  corrupt_chunks_.erase(digest);
}

void FaultyUpstream::CorruptNextChunks(int count) {
  std::unique_lock<std::mutex> lock(mu_);
  corrupt_next_count_ = count;
}

void FaultyUpstream::HoldCalls() {
  std::unique_lock<std::mutex> lock(mu_);
  holding_ = true;
}

void FaultyUpstream::ReleaseCalls() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    holding_ = false;
  }
  hold_changed_.notify_all();
}

void FaultyUpstream::ReleaseChunk(const ChunkDigest& digest) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    released_chunks_.insert(digest);
  }
  hold_changed_.notify_all();
}

std::vector<ChunkDigest> FaultyUpstream::held_chunks() const {
  std::unique_lock<std::mutex> lock(mu_);
  return held_chunks_;
}

bool FaultyUpstream::WaitForHeldCalls(int count, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return hold_changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                                [this, count] { return held_calls_ >= count; });
}

int FaultyUpstream::calls_in_flight() const {
  std::unique_lock<std::mutex> lock(mu_);
  return in_flight_;
}

int FaultyUpstream::max_calls_in_flight() const {
  std::unique_lock<std::mutex> lock(mu_);
  return max_in_flight_;
}

void FaultyUpstream::ResetMaxCallsInFlight() {
  std::unique_lock<std::mutex> lock(mu_);
  max_in_flight_ = in_flight_;
}

uint64_t FaultyUpstream::total_calls() const {
  std::unique_lock<std::mutex> lock(mu_);
  return total_calls_;
}

uint64_t FaultyUpstream::bytes_returned() const {
  std::unique_lock<std::mutex> lock(mu_);
  return bytes_returned_;
}

absl::StatusOr<std::string> FaultyUpstream::ReadSnapshotFile(const SnapshotName& snapshot,
                                                             std::string_view file_name) {
  return RunDataCall(nullptr, [&] { return inner_->ReadSnapshotFile(snapshot, file_name); });
}

absl::StatusOr<std::string> FaultyUpstream::ReadChunk(const ChunkDigest& digest,
                                                      const ChunkReadOptions& options) {
  return RunDataCall(&digest, [&] { return inner_->ReadChunk(digest, options); });
}

absl::StatusOr<std::vector<SnapshotName>> FaultyUpstream::ListSnapshots() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!down_status_.ok()) return down_status_;
  }
  return inner_->ListSnapshots();
}

absl::Status FaultyUpstream::CheckReadable() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!down_status_.ok()) return down_status_;
  }
  return inner_->CheckReadable();
}

std::string FaultyUpstream::Describe() const {
  return absl::StrFormat("faulty %s", inner_->Describe());
}

absl::StatusOr<std::string> FaultyUpstream::RunDataCall(
    const ChunkDigest* digest, const std::function<absl::StatusOr<std::string>()>& call) {
  absl::Duration latency;
  {
    std::unique_lock<std::mutex> lock(mu_);
    ++total_calls_;
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (holding_ && (digest == nullptr || !released_chunks_.contains(*digest))) {
      ++held_calls_;
      if (digest != nullptr) held_chunks_.push_back(*digest);
      hold_changed_.notify_all();
      hold_changed_.wait(lock, [this, digest] {
        return !holding_ || (digest != nullptr && released_chunks_.contains(*digest));
      });
      --held_calls_;
      if (digest != nullptr) {
        held_chunks_.erase(std::find(held_chunks_.begin(), held_chunks_.end(), *digest));
      }
    }
    latency = latency_;
  }
  if (latency > absl::ZeroDuration()) absl::SleepFor(latency);

  const absl::Status injected = InjectedFailure(digest);
  absl::StatusOr<std::string> result = injected.ok() ? call() : injected;
  if (result.ok()) {
    ThrottleBandwidth(result->size());
    if (digest != nullptr && !result->empty() && TakeCorruption(*digest)) {
      result->back() = static_cast<char>(result->back() ^ 0xff);
    }
  }

  std::unique_lock<std::mutex> lock(mu_);
  --in_flight_;
  if (result.ok()) bytes_returned_ += result->size();
  return result;
}

absl::Status FaultyUpstream::InjectedFailure(const ChunkDigest* digest) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!down_status_.ok()) return down_status_;
  if (fail_next_count_ > 0) {
    --fail_next_count_;
    return fail_next_status_;
  }
  if (digest != nullptr) {
    auto it = failing_chunks_.find(*digest);
    if (it != failing_chunks_.end()) return it->second;
  }
  return absl::OkStatus();
}

void FaultyUpstream::ThrottleBandwidth(uint64_t bytes) {
  absl::Duration wait;
  {
    std::lock_guard<std::mutex> lock(bucket_mu_);
    if (bytes_per_second_ == 0) return;
    const absl::Time now = absl::Now();
    const double rate = static_cast<double>(bytes_per_second_);
    tokens_ = std::min(burst_bytes_, tokens_ + absl::ToDoubleSeconds(now - last_refill_) * rate);
    last_refill_ = now;
    // Every caller takes its bytes at once and waits off its share of the debt: concurrent
    // callers queue behind each other, so together they never exceed the rate.
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ < 0) wait = absl::Seconds(-tokens_ / rate);
  }
  if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
}

bool FaultyUpstream::TakeCorruption(const ChunkDigest& digest) {
  std::unique_lock<std::mutex> lock(mu_);
  if (corrupt_chunks_.contains(digest)) return true;
  if (corrupt_next_count_ > 0) {
    --corrupt_next_count_;
    return true;
  }
  return false;
}

}  // namespace chunkcache
