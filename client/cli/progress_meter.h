// A one-line progress display for long transfers (restore): bytes done of the total, percent,
// throughput and the estimated time left, redrawn in place on a terminal. Quiet when the
// output is not a terminal, so logs and pipes get no carriage-return noise.
//
//   ProgressMeter meter(stderr, isatty(STDERR_FILENO));
//   options.on_progress = [&](uint64_t done, uint64_t total) { meter.Update(done, total); };
//   ... transfer ...
//   meter.Finish();
//
//   FormatProgressLine(1610612736, 4294967296, 12.0)
//     -> "1.50 GiB / 4.00 GiB  37.5%  128.0 MiB/s  ETA 0:21"
#ifndef CHUNKCACHE_CLIENT_CLI_PROGRESS_METER_H_
#define CHUNKCACHE_CLIENT_CLI_PROGRESS_METER_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace chunkcache {

// "0:07", "12:34", "1:02:03"; "--:--" when unknown (negative, infinite or NaN seconds).
std::string FormatEta(double seconds);

// "128.0 MiB/s" (powers of 1024, one decimal; "0 B/s" when nothing moved).
std::string FormatRate(double bytes_per_second);

// The line for `done` of `total` bytes after `elapsed_seconds`. Rate and ETA come from the
// average since the start; both read "--" until something has moved.
std::string FormatProgressLine(uint64_t done, uint64_t total, double elapsed_seconds);

class ProgressMeter {
 public:
  using Clock = std::chrono::steady_clock;

  // Draws on `out` only when `enabled`; redraws at most every `min_interval`.
  ProgressMeter(std::FILE* out, bool enabled,
                std::chrono::milliseconds min_interval = std::chrono::milliseconds(200));

  // Redraws when min_interval has passed since the last draw, and always at done == total.
  void Update(uint64_t done, uint64_t total);
  // Draws the final state and ends the line (nothing when disabled or never updated).
  void Finish();

  int draws() const { return draws_; }

 private:
  void Draw(uint64_t done, uint64_t total);

  std::FILE* out_;
  bool enabled_;
  std::chrono::milliseconds min_interval_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  uint64_t last_done_ = 0;
  uint64_t last_total_ = 0;
  bool updated_ = false;
  int draws_ = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_PROGRESS_METER_H_
