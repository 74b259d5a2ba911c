#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli/read_command.h"
#include "client/cli/remote_flags.h"
#include "client/cli/restore_command.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

// Parses `args` (without the program name) into a command with the remote flags.
void Parse(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "chunkcache");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

class RemoteFlagsTest : public ::testing::Test {
 protected:
  RemoteFlagsTest() {
    AddConnectionFlags(&app_, &flags_);
    AddArchiveFlags(&app_, &flags_);
  }
  CLI::App app_{"test"};
  RemoteFlags flags_;
};

const std::vector<std::string> kArchive = {"--datastore", "store",
                                           "--snapshot",  "vm/100/2026-01-02T00:00:00Z",
                                           "--archive",   "disk.img.fidx"};

std::vector<std::string> With(std::vector<std::string> args) {
  args.insert(args.end(), kArchive.begin(), kArchive.end());
  return args;
}

TEST_F(RemoteFlagsTest, PlainConnectionDefaults) {
  Parse(app_, With({"--server", "node1:7000"}));
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server_address, "node1:7000");
  EXPECT_FALSE(options->use_tls);
  EXPECT_EQ(options->bearer_token, "");
  EXPECT_EQ(options->rpc_deadline, std::chrono::seconds(30));
  EXPECT_EQ(options->retry.max_attempts, 5);
  absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags_);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->backup_id(), "100");
}

TEST_F(RemoteFlagsTest, DeadlineRetriesAndTokenFile) {
  testing::ScratchDir dir;
  testing::WriteFileBytes(dir / "token", "  s3cret-token\n");
  Parse(app_, With({"--server", "h:1", "--deadline", "1500ms", "--retries", "0", "--token-file",
                    (dir / "token").string()}));
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->rpc_deadline, std::chrono::milliseconds(1500));
  EXPECT_EQ(options->retry.max_attempts, 1);
  EXPECT_EQ(options->bearer_token, "s3cret-token");
}

TEST_F(RemoteFlagsTest, TokenFromEnvironment) {
  ::setenv("CHUNKCACHE_TEST_TOKEN", "from-env", 1);
  Parse(app_, With({"--server", "h:1", "--token-env", "CHUNKCACHE_TEST_TOKEN"}));
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->bearer_token, "from-env");

  flags_.token_env = "CHUNKCACHE_TEST_TOKEN_UNSET";
  ::unsetenv("CHUNKCACHE_TEST_TOKEN_UNSET");
  options = BuildClientOptions(flags_);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("CHUNKCACHE_TEST_TOKEN_UNSET"),
            absl::string_view::npos);
}

TEST_F(RemoteFlagsTest, TokenFileAndTokenEnvExcludeEachOther) {
  EXPECT_THROW(Parse(app_, With({"--server", "h:1", "--token-file", "/etc/hostname", "--token-env",
                                 "HOME"})),
               CLI::ParseError);
}

TEST_F(RemoteFlagsTest, ServerIsRequired) {
  ::unsetenv("CHUNKCACHE_SERVER");
  EXPECT_THROW(Parse(app_, kArchive), CLI::RequiredError);
}

TEST_F(RemoteFlagsTest, TlsFilesWithoutTlsAreAUsageError) {
  testing::ScratchDir dir;
  testing::WriteFileBytes(dir / "ca.pem", "-----BEGIN CERTIFICATE-----\n");
  Parse(app_, With({"--server", "h:1", "--ca", (dir / "ca.pem").string()}));
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags_);
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(options.status().message().find("--tls"), absl::string_view::npos);
}

TEST_F(RemoteFlagsTest, MutualTlsNeedsCertAndKey) {
  testing::ScratchDir dir;
  testing::WriteFileBytes(dir / "cert.pem", "-----BEGIN CERTIFICATE-----\n");
  EXPECT_THROW(
      Parse(app_, With({"--server", "h:1", "--tls", "--cert", (dir / "cert.pem").string()})),
      CLI::ParseError);
}

TEST(ParseDurationFlag, AcceptsUnitsAndRejectsNonPositive) {
  EXPECT_EQ(*ParseDurationFlag("30s", "--deadline"), std::chrono::seconds(30));
  EXPECT_EQ(*ParseDurationFlag("2m", "--deadline"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDurationFlag("250ms", "--deadline"), std::chrono::milliseconds(250));
  for (const char* bad : {"", "30", "0s", "-1s", "soon", "inf"}) {
    absl::StatusOr<std::chrono::milliseconds> parsed = ParseDurationFlag(bad, "--duration");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("--duration"), absl::string_view::npos);
  }
}

// Usage errors found before any connection end the command with exit code 2 and the
// "chunkcache: INVALID_ARGUMENT: ..." line.
TEST(RemoteCommands, BadArgumentsExitWithUsageCode) {
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  const std::vector<Case> cases = {
      {{"read", "--server", "127.0.0.1:1", "--offset", "0", "--length", "4 parsecs"},
       "chunkcache: INVALID_ARGUMENT: --length"},
      {{"read", "--server", "127.0.0.1:1", "--offset", "0", "--length", "0"},
       "chunkcache: INVALID_ARGUMENT: --length"},
      {{"restore", "--server", "127.0.0.1:1", "--out", "/nonexistent/x", "--request-size", "lots"},
       "chunkcache: INVALID_ARGUMENT: --request-size"},
  };
  for (const Case& c : cases) {
    CLI::App app{"test"};
    RegisterReadCommand(app);
    RegisterRestoreCommand(app);
    std::vector<std::string> args = c.args;
    args.insert(args.end(), kArchive.begin(), kArchive.end());
    ::testing::internal::CaptureStderr();
    int exit_code = 0;
    try {
      Parse(app, args);
    } catch (const CLI::RuntimeError& e) {
      exit_code = e.get_exit_code();
    }
    const std::string stderr_text = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(exit_code, 2) << args[0];
    EXPECT_NE(stderr_text.find(c.error), std::string::npos) << stderr_text;
  }
}

}  // namespace
}  // namespace chunkcache
