// The reliability suite, CI-sized: real chunkcached processes on loopback under a mixed load of
// concurrent callers (reliability_run.py, Python grpcio) that verify every byte against the
// source images and classify every status code as one the test caused (a cancel, a short
// deadline, a corrupted chunk, an upstream that is down) or not. Each test runs one scenario
// for a bounded time and asserts on its JSON summary. bench/reliability_soak.sh runs the same
// scenarios for minutes and records their figures in bench/RESULTS.md; speed figures (restart
// time, latency ratios) are recorded there, only generous bounds are asserted here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

using nlohmann::json;

// Runs reliability_run.py SCENARIO with `options`; the parsed summary (null on failure, which
// has then failed the test).
json RunScenario(const std::string& scenario, const std::vector<std::string>& options) {
  const ProcessResult probe = RunProcess({"/usr/bin/python3", "-c", "import grpc, grpc_tools"});
  if (probe.exit_code != 0) {
    ADD_FAILURE() << "/usr/bin/python3 cannot import grpc and grpc_tools (install "
                     "python3-grpcio and python3-grpc-tools with scripts/install-deps.sh): "
                  << probe.stderr_text;
    return nullptr;
  }
  ScratchDir scratch;
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   (SourceDir() / "tests/reliability/reliability_run.py").string(),
                                   scenario,
                                   "--bin",
                                   BinDir().string(),
                                   "--scratch",
                                   scratch.path().string()};
  argv.insert(argv.end(), options.begin(), options.end());
  const ProcessResult run = RunProcess(argv, {.timeout = std::chrono::seconds(240)});
  if (run.exit_code != 0) {
    ADD_FAILURE() << "reliability_run.py " << scenario << " exited with " << run.exit_code << "\n"
                  << run.stdout_text << run.stderr_text;
    return nullptr;
  }
  json summary = json::parse(run.stdout_text, nullptr, /*allow_exceptions=*/false);
  if (summary.is_discarded()) ADD_FAILURE() << "not JSON:\n" << run.stdout_text;
  // The whole summary is in the test log: the figures of a failed run are its diagnosis.
  std::printf("%s\n", run.stdout_text.c_str());
  return summary.is_discarded() ? json(nullptr) : summary;
}

// What every scenario must show of the mixed load: calls of every role, nothing unexpected,
// no wrong byte, every caller returned, the server still up.
void ExpectCleanLoad(const json& summary) {
  const json& load = summary["load"];
  EXPECT_EQ(load["unexpected"], 0) << load["unexpected_examples"].dump(1);
  EXPECT_EQ(load["wrong_bytes"], 0);
  EXPECT_GT(load["bytes_verified"].get<double>(), 0);
  for (const auto& [role, callers] : load["roles"].items()) {
    bool called = false;
    for (const auto& [role_and_code, count] : load["calls_by_role_and_code"].items()) {
      if (role_and_code.rfind(role + " ", 0) == 0 && count.get<int>() > 0) called = true;
    }
    EXPECT_TRUE(called) << "no call of role " << role;
  }
  EXPECT_TRUE(summary["callers_still_running"].empty()) << summary["callers_still_running"];
  EXPECT_TRUE(summary["server_alive"].get<bool>());
}

// Once the load has stopped, only the hinted sets stay pinned.
void ExpectPinsBackToHinted(const json& summary) {
  EXPECT_EQ(summary["pinned_after_load_mib"].get<double>(),
            summary["hinted_bytes_expected_mib"].get<double>())
      << "hinted chunks per archive (StatSnapshot): " << summary["hinted_chunks_by_stat"];
}

// 2 archives of 16 chunks (23 distinct, 92 MiB) over a 64 MiB cache.
const std::vector<std::string> kLoadShape = {"--archives", "2",         "--chunks",
                                             "16",         "--callers", "32"};

std::vector<std::string> With(std::vector<std::string> options) {
  options.insert(options.begin(), kLoadShape.begin(), kLoadShape.end());
  return options;
}

TEST(ReliabilityTest, SoakOverASmallCacheVerifiesEveryByteAndGivesBackItsPins) {
  // Sessions close 10 s after the load stops: then nothing at all may stay pinned.
  const json summary = RunScenario(
      "soak", With({"--seconds", "16", "--cache-bytes", "64MiB", "--idle-timeout", "10"}));
  ASSERT_FALSE(summary.is_null());
  ExpectCleanLoad(summary);
  EXPECT_GT(summary["working_set_mib"].get<double>(), 64);
  EXPECT_GT(summary["server"]["evictions"].get<double>(), 0);  // the cache was too small
  ExpectPinsBackToHinted(summary);
  EXPECT_EQ(summary["sessions_open_at_the_end"], 0);
  EXPECT_EQ(summary["pinned_after_sessions_closed_mib"], 0) << "a pin outlived its reader";
  // RssAnon flat after the warm-up: the real figure goes to bench/RESULTS.md; this bound only
  // catches a leak of a sizeable fraction of the bytes served.
  EXPECT_LT(summary["memory"]["rss_anon_growth_after_warmup_mib"].get<double>(), 96)
      << summary["memory"];
}

TEST(ReliabilityTest, KillNineMidLoadRestartsWithItsPersistedEntriesAndNoWrongByte) {
  // A cache that holds the working set, so that a full read pass after the restart shows how
  // many persisted entries came back.
  const json summary = RunScenario("crash", With({"--seconds", "12", "--cache-bytes", "128MiB"}));
  ASSERT_FALSE(summary.is_null());
  ExpectCleanLoad(summary);
  const json& restart = summary["restart"];
  EXPECT_LT(restart["serving_s"].get<double>(), 10) << restart;  // the target (< 1 s) is a figure
  EXPECT_TRUE(restart["pass_problems"].empty()) << restart;
  EXPECT_EQ(restart["pass_bytes_verified"], 2 * 16 * (4 << 20));
  EXPECT_GT(restart["cached_mib_after_restart"].get<double>(), 0) << restart;
  EXPECT_LT(restart["pass_fetches"].get<double>(), restart["pass_distinct_chunks"].get<double>())
      << restart;
}

TEST(ReliabilityTest, UpstreamThatHangsDiesCorruptsAndSlowsServesNoBadByte) {
  const json summary = RunScenario("faults", With({"--seconds", "22", "--cache-bytes", "64MiB"}));
  ASSERT_FALSE(summary.is_null());
  ExpectCleanLoad(summary);
  EXPECT_EQ(summary["faults_injected"].size(), 4u);
  EXPECT_EQ(summary["corrupted_chunks"], 3);
  // The faults reached the node: failed fetches, and the rack refused the corrupted blobs.
  EXPECT_GT(summary["node"]["upstream_fetches_error"].get<double>(), 0);
  EXPECT_GT(summary["rack"]["upstream_fetches_corrupt"].get<double>(), 0);
  // Repaired blobs read fine: nothing bad was cached.
  EXPECT_TRUE(summary["repaired_pass_problems"].empty()) << summary["repaired_pass_problems"];
  EXPECT_GT(summary["repaired_pass_bytes_verified"].get<double>(), 0);
  // Hits kept flowing in every phase (their p99 ratios are figures for bench/RESULTS.md).
  for (const char* phase : {"baseline", "hang", "down", "corrupt", "slow"}) {
    EXPECT_GT(summary["load"]["hit_latency_by_phase"][phase]["calls"].get<int>(), 0) << phase;
  }
  // Deadlines honoured: no call outlived its deadline by more than scheduling noise.
  EXPECT_LT(summary["load"]["deadline_overrun_max_s"].get<double>(), 5);
}

TEST(ReliabilityTest, StalledAndSlowStreamsDoNotFailOtherClientsColdReads) {
  const json summary = RunScenario("clients", {"--archives", "2", "--chunks", "16", "--callers",
                                               "8", "--seconds", "10", "--cache-bytes", "64MiB"});
  ASSERT_FALSE(summary.is_null());
  ExpectCleanLoad(summary);
  EXPECT_EQ(summary["stalled_streams"], 16);
  EXPECT_GT(summary["cold_probes"].get<int>(), 0);
  EXPECT_EQ(summary["cold_probe_failed"], 0) << summary["cold_probe_failures"];
  EXPECT_TRUE(summary["stream_errors"].empty()) << summary["stream_errors"];
  EXPECT_EQ(summary["stream_wrong_messages"], 0);
  ExpectPinsBackToHinted(summary);
}

TEST(ReliabilityTest, ManySessionsHugePrefetchesAndDroppedConnectionsLeaveTheServerServing) {
  const json summary =
      RunScenario("hostile", With({"--seconds", "10", "--cache-bytes", "96MiB", "--sessions", "48",
                                   "--connections", "1000", "--huge-prefetches", "3"}));
  ASSERT_FALSE(summary.is_null());
  ExpectCleanLoad(summary);
  EXPECT_TRUE(summary["hostile_unexpected"].empty()) << summary["hostile_unexpected"];
  int sessions = 0;
  for (const auto& [code, count] : summary["bad_inputs"]["session"].items()) {
    sessions += count.get<int>();
  }
  EXPECT_EQ(sessions, 48);
  EXPECT_EQ(summary["connections_dropped"], 1000);
  EXPECT_EQ(summary["huge_prefetches"], 3);
  // Every dropped connection was closed by the server too.
  EXPECT_LE(summary["fds_after"].get<int>(), summary["fds_before"].get<int>() + 8);
  ExpectPinsBackToHinted(summary);
}

}  // namespace
}  // namespace chunkcache::testing
