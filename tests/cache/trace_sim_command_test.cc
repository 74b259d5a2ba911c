// `chunkcache sim`: size parsing, the printed line, and errors.
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli/sim_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TracePath(const std::string& name) {
  return (testing::SharedDir() / "traces" / name).string();
}

TEST(ParseByteSizeTest, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(*ParseByteSize("4194304"), 4194304u);
  EXPECT_EQ(*ParseByteSize("4MiB"), 4194304u);
  EXPECT_EQ(*ParseByteSize("1mib"), 1048576u);
  EXPECT_EQ(*ParseByteSize("512KiB"), 524288u);
  EXPECT_EQ(*ParseByteSize("2G"), 2147483648u);
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("MiB").ok());
  EXPECT_FALSE(ParseByteSize("4MB/s").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999TiB").ok());
}

TEST(RunSimTest, PrintsMissRatioRequestsAndMisses) {
  SimOptions options;
  options.trace_path = TracePath("cloudPhysicsIO.vscsi");
  options.capacity_chunks = 80;
  options.policy = "lru";
  std::ostringstream out;
  ASSERT_TRUE(RunSim(options, out).ok());
  EXPECT_EQ(out.str(), "miss_ratio=0.045895 requests=114848 misses=5271\n");
}

TEST(RunSimTest, LiveRestoreAddsTheCopysCounts) {
  SimOptions options;
  options.trace_path = TracePath("cloudPhysicsIO.csv");
  options.reads_only = true;
  options.live_restore_k = 4;
  std::ostringstream out;
  ASSERT_TRUE(RunSim(options, out).ok());
  EXPECT_THAT(out.str(), StartsWith("miss_ratio=0.05"));
  EXPECT_THAT(out.str(), HasSubstr(" requests=47390 "));
  EXPECT_THAT(out.str(), HasSubstr(" copy_requests=8008 "));
}

TEST(RunSimTest, QemuLiveRestorePrintsGuestMissesAndUpstreamFetches) {
  SimOptions options;
  options.trace_path = TracePath("cloudPhysicsIO.vscsi");
  options.reads_only = true;
  options.qemu_live_restore = true;
  options.capacity_chunks = 64;
  std::ostringstream index_out, opt_out;
  options.policy = "index";
  ASSERT_TRUE(RunSim(options, index_out).ok());
  options.policy = "opt";
  ASSERT_TRUE(RunSim(options, opt_out).ok());
  // bench/RESULTS.md, "Index-aware caching", copy rate 1, 64 chunks.
  EXPECT_THAT(index_out.str(), HasSubstr(" misses=862 "));
  EXPECT_THAT(index_out.str(), HasSubstr(" upstream_fetches=8627 disk_chunks=8008\n"));
  EXPECT_THAT(opt_out.str(), HasSubstr(" upstream_fetches=8481 "));
  options.cluster_size = 3000;  // does not divide the chunk size
  EXPECT_EQ(RunSim(options, opt_out).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunSimTest, TwoRestoresPrintEachOnesFetches) {
  SimOptions options;
  options.restores_of = 1000;
  options.capacity_chunks = 500;
  options.second_speed = 0.5;
  options.policy = "lru";
  std::ostringstream out;
  ASSERT_TRUE(RunSim(options, out).ok());
  EXPECT_EQ(out.str(),
            "first_fetches=1000 second_fetches=750 second_fetch_ratio=0.750000 "
            "archive_chunks=1000\n");
}

TEST(RunSimTest, ErrorsNameTheProblem) {
  SimOptions options;
  options.trace_path = "/nonexistent/trace.vscsi";
  std::ostringstream out;
  absl::Status missing = RunSim(options, out);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  options.trace_path = TracePath("cloudPhysicsIO.vscsi");
  options.policy = "nope";
  EXPECT_THAT(std::string(RunSim(options, out).message()), HasSubstr("unknown eviction policy"));
  EXPECT_TRUE(out.str().empty());
}

int RunCli(std::vector<std::string> args, std::string* printed) {
  CLI::App app;
  RegisterSimCommand(app);
  std::vector<const char*> argv = {"chunkcache"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  ::testing::internal::CaptureStdout();
  int code = 0;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    code = e.get_exit_code();
  }
  *printed = ::testing::internal::GetCapturedStdout();
  return code;
}

TEST(SimCommandTest, ParsesSizesAndPrintsTheResult) {
  std::string printed;
  EXPECT_EQ(RunCli({"sim", "--trace", TracePath("cloudPhysicsIO.vscsi"), "--chunk-size", "1MiB",
                    "--capacity-chunks", "32", "--policy", "lru"},
                   &printed),
            0);
  EXPECT_THAT(printed, StartsWith("miss_ratio=0.2003"));  // REFERENCE.md: 0.2004
}

TEST(SimCommandTest, FailuresExitNonZero) {
  std::string printed;
  EXPECT_NE(RunCli({"sim", "--trace", "/nonexistent.vscsi"}, &printed), 0);
  EXPECT_NE(RunCli({"sim"}, &printed), 0);  // neither a trace nor an archive
  EXPECT_NE(RunCli({"sim", "--restores-of", "10", "--second-start", "2"}, &printed), 0);
  EXPECT_NE(RunCli({"sim", "--trace", TracePath("cloudPhysicsIO.vscsi"), "--chunk-size", "4XB"},
                   &printed),
            0);
  EXPECT_NE(
      RunCli({"sim", "--trace", TracePath("cloudPhysicsIO.vscsi"), "--policy", "mru"}, &printed),
      0);
  EXPECT_TRUE(printed.empty());
}

}  // namespace
}  // namespace chunkcache
