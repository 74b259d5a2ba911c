#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "client/cli/progress_meter.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

TEST(FormatEta, MinutesAndHours) {
  EXPECT_EQ(FormatEta(0), "0:00");
  EXPECT_EQ(FormatEta(7.4), "0:07");
  EXPECT_EQ(FormatEta(754), "12:34");
  EXPECT_EQ(FormatEta(3723), "1:02:03");
}

TEST(FormatEta, UnknownWhenNotMeaningful) {
  EXPECT_EQ(FormatEta(-1), "--:--");
  EXPECT_EQ(FormatEta(std::numeric_limits<double>::infinity()), "--:--");
  EXPECT_EQ(FormatEta(std::nan("")), "--:--");
  EXPECT_EQ(FormatEta(1e12), "--:--");
}

TEST(FormatRate, BinaryUnits) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(500), "500 B/s");
  EXPECT_EQ(FormatRate(128.0 * 1024 * 1024), "128.0 MiB/s");
  EXPECT_EQ(FormatRate(1.5 * 1024 * 1024 * 1024), "1.5 GiB/s");
}

TEST(FormatProgressLine, BytesPercentRateAndEta) {
  // 1.5 GiB of 4 GiB in 12 s: 128 MiB/s, 2.5 GiB left -> 20 s.
  EXPECT_EQ(FormatProgressLine(uint64_t{3} << 29, uint64_t{4} << 30, 12.0),
            "1.50 GiB / 4.00 GiB  37.5%  128.0 MiB/s  ETA 0:20");
}

TEST(FormatProgressLine, NothingMovedYet) {
  EXPECT_EQ(FormatProgressLine(0, 1 << 20, 0.5), "0 B / 1.00 MiB  0.0%  --  ETA --:--");
}

TEST(FormatProgressLine, DoneAndEmptyArchive) {
  EXPECT_EQ(FormatProgressLine(1 << 20, 1 << 20, 2.0),
            "1.00 MiB / 1.00 MiB  100.0%  512.0 KiB/s  ETA 0:00");
  EXPECT_EQ(FormatProgressLine(0, 0, 1.0), "0 B / 0 B  100.0%  --  ETA --:--");
}

std::string ReadBack(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

TEST(ProgressMeter, SilentWhenDisabled) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ProgressMeter meter(out, /*enabled=*/false);
  meter.Update(1, 2);
  meter.Update(2, 2);
  meter.Finish();
  EXPECT_EQ(meter.draws(), 0);
  EXPECT_EQ(ReadBack(out), "");
  std::fclose(out);
}

TEST(ProgressMeter, RateLimitsRedrawsButAlwaysDrawsTheEnd) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ProgressMeter meter(out, /*enabled=*/true, std::chrono::hours(1));
  for (uint64_t done = 0; done <= 1000; ++done) meter.Update(done, 1000);
  // The first update and the last (done == total) draw; the 999 in between are throttled.
  EXPECT_EQ(meter.draws(), 2);
  meter.Finish();
  const std::string text = ReadBack(out);
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("1000 B / 1000 B  100.0%"), std::string::npos) << text;
  std::fclose(out);
}

}  // namespace
}  // namespace chunkcache
