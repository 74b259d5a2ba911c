#include "client/cli/progress_meter.h"

#include <array>
#include <cmath>

#include "absl/strings/str_format.h"
#include "client/cli/byte_size.h"

namespace chunkcache {

std::string FormatEta(double seconds) {
  // More than 100 days is no estimate anyone can use.
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 100.0 * 86400) return "--:--";
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600;
  const int64_t minutes = (total / 60) % 60;
  const int64_t secs = total % 60;
  if (hours > 0) return absl::StrFormat("%d:%02d:%02d", hours, minutes, secs);
  return absl::StrFormat("%d:%02d", minutes, secs);
}

std::string FormatRate(double bytes_per_second) {
  static constexpr std::array<const char*, 5> kUnits = {"B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"};
  if (!std::isfinite(bytes_per_second) || bytes_per_second <= 0) return "0 B/s";
  size_t unit = 0;
  double value = bytes_per_second;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return absl::StrFormat("%.0f B/s", value);
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string FormatProgressLine(uint64_t done, uint64_t total, double elapsed_seconds) {
  const double percent =
      total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total);
  std::string rate = "--";
  std::string eta = "--:--";
  if (done > 0 && elapsed_seconds > 0) {
    const double bytes_per_second = static_cast<double>(done) / elapsed_seconds;
    rate = FormatRate(bytes_per_second);
    const double remaining = done >= total ? 0.0 : static_cast<double>(total - done);
    eta = FormatEta(remaining / bytes_per_second);
  }
  return absl::StrFormat("%s / %s  %.1f%%  %s  ETA %s", FormatBytes(done), FormatBytes(total),
                         percent, rate, eta);
}

ProgressMeter::ProgressMeter(std::FILE* out, bool enabled, std::chrono::milliseconds min_interval)
    : out_(out),
      enabled_(enabled && out != nullptr),
      min_interval_(min_interval),
      start_(Clock::now()) {}

void ProgressMeter::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  last_done_ = done;
  last_total_ = total;
  if (!updated_ || done >= total || now - last_draw_ >= min_interval_) {
    updated_ = true;
    last_draw_ = now;
    Draw(done, total);
  }
}

void ProgressMeter::Finish() {
  if (!enabled_ || !updated_) return;
  Draw(last_done_, last_total_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressMeter::Draw(uint64_t done, uint64_t total) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // "\r" returns to the start of the line, "\x1b[K" clears what a longer line left behind.
  std::fprintf(out_, "\r%s\x1b[K", FormatProgressLine(done, total, elapsed).c_str());
  std::fflush(out_);
  ++draws_;
}

}  // namespace chunkcache
