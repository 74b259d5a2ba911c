#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "client/cli/bench_report.h"
#include "client/cli/latency_histogram.h"
#include "client/cli/load_generator.h"
#include "nlohmann/json.hpp"

namespace chunkcache {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(LatencyHistogram, EmptyReportsZeros) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.Percentile(0.5), nanoseconds(0));
  EXPECT_EQ(histogram.max(), nanoseconds(0));
  EXPECT_EQ(histogram.min(), nanoseconds(0));
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int v = 1; v <= 200; ++v) histogram.Record(nanoseconds(v));
  EXPECT_EQ(histogram.Percentile(0.5), nanoseconds(100));
  EXPECT_EQ(histogram.Percentile(0.75), nanoseconds(150));
  EXPECT_EQ(histogram.Percentile(1.0), nanoseconds(200));
  EXPECT_EQ(histogram.min(), nanoseconds(1));
}

TEST(LatencyHistogram, PercentilesWithinOnePercentOfTheTruth) {
  LatencyHistogram histogram;
  for (int us = 1; us <= 10000; ++us) histogram.Record(microseconds(us));
  EXPECT_EQ(histogram.count(), 10000u);
  const struct {
    double quantile;
    double truth_us;
  } expectations[] = {{0.5, 5000}, {0.9, 9000}, {0.99, 9900}, {0.999, 9990}};
  for (const auto& e : expectations) {
    const double got_us = static_cast<double>(histogram.Percentile(e.quantile).count()) / 1000;
    EXPECT_GE(got_us, e.truth_us) << e.quantile;
    EXPECT_LE(got_us, e.truth_us * 1.01) << e.quantile;
  }
  EXPECT_EQ(histogram.max(), microseconds(10000));
  EXPECT_EQ(histogram.Percentile(1.0), microseconds(10000));  // capped at the exact max
  EXPECT_NEAR(static_cast<double>(histogram.mean().count()), 5000.5e3, 1);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    const nanoseconds v(i * 997 % 50000 + 1);
    (i % 2 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_EQ(a.Percentile(q), all.Percentile(q)) << q;
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
}

TEST(LatencyHistogram, ExtremeValuesDoNotBreakIt) {
  LatencyHistogram histogram;
  histogram.Record(nanoseconds(-5));
  histogram.Record(nanoseconds(INT64_MAX));
  EXPECT_EQ(histogram.min(), nanoseconds(0));
  EXPECT_EQ(histogram.Percentile(1.0), nanoseconds(INT64_MAX));
  EXPECT_EQ(histogram.Percentile(0.5), nanoseconds(0));
}

TEST(BenchOffset, SequentialWrapsAndRandomStaysInside) {
  const uint64_t size = 10 * 4096 + 100;  // 11 request slots, the last one short
  EXPECT_EQ(BenchOffset(AccessPattern::kSequential, size, 4096, 0, 999), 0u);
  EXPECT_EQ(BenchOffset(AccessPattern::kSequential, size, 4096, 10, 999), 10u * 4096);
  EXPECT_EQ(BenchOffset(AccessPattern::kSequential, size, 4096, 11, 999), 0u);
  for (uint64_t r = 0; r < 1000; ++r) {
    const uint64_t offset = BenchOffset(AccessPattern::kRandom, size, 4096, 0, r * 7919);
    EXPECT_EQ(offset % 4096, 0u);
    EXPECT_LT(offset, size);
  }
}

LoadReport SampleReport() {
  LoadReport report;
  report.requests_ok = 1000;
  report.requests_failed = 3;
  report.bytes = 1000 * 65536;
  report.elapsed_seconds = 2.0;
  for (int i = 1; i <= 1000; ++i) report.latency.Record(microseconds(i));
  report.errors["UNAVAILABLE"] = ErrorTally{absl::StatusCode::kUnavailable, 3, "upstream down"};
  return report;
}

TEST(BenchReport, TextHasRateThroughputPercentilesAndErrors) {
  const std::string text = FormatBenchReportText(SampleReport());
  EXPECT_NE(text.find("1000 ok, 3 failed in 2.00 s (501.5 req/s)"), std::string::npos) << text;
  EXPECT_NE(text.find("32.8 MB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("p50 0.50"), std::string::npos) << text;  // within a bucket of 0.5 ms
  EXPECT_NE(text.find("max 1.000 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("UNAVAILABLE 3 (first: upstream down)"), std::string::npos) << text;
}

TEST(BenchReport, JsonParsesWithTheSameNumbers) {
  const nlohmann::json json = nlohmann::json::parse(FormatBenchReportJson(SampleReport()));
  EXPECT_EQ(json["requests_ok"], 1000);
  EXPECT_EQ(json["requests_failed"], 3);
  EXPECT_DOUBLE_EQ(json["rps"].get<double>(), 501.5);
  EXPECT_DOUBLE_EQ(json["mb_per_s"].get<double>(), 32.768);
  EXPECT_NEAR(json["latency_ms"]["p99"].get<double>(), 0.990, 0.01);
  EXPECT_EQ(json["errors"]["UNAVAILABLE"]["count"], 3);
}

TEST(FormatLatency, PicksAReadableUnit) {
  EXPECT_EQ(FormatLatency(microseconds(512)), "0.512 ms");
  EXPECT_EQ(FormatLatency(microseconds(12300)), "12.30 ms");
  EXPECT_EQ(FormatLatency(std::chrono::milliseconds(1204)), "1.204 s");
}

}  // namespace
}  // namespace chunkcache
