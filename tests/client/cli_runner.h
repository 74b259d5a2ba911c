// Runs the real `chunkcache` binary (build/bin/chunkcache) from a test and collects what it
// printed. Stdout is hashed (SHA-256) and counted as it streams, so a test can check a
// 100 MB `datastore cat` without storing it; the text is kept only when asked.
//
//   CliResult r = RunChunkcache({"datastore", "verify", "--path", dir});
//   EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
//   CliResult cat = RunChunkcache({"datastore", "cat", ...}, {.keep_stdout = false});
//   EXPECT_EQ(cat.stdout_sha256, "9d37…");
#ifndef CHUNKCACHE_TESTS_CLIENT_CLI_RUNNER_H_
#define CHUNKCACHE_TESTS_CLIENT_CLI_RUNNER_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chunkcache::testing {

struct CliRunOptions {
  std::optional<std::filesystem::path> stdin_file;  // default: /dev/null
  bool keep_stdout = true;
  std::vector<std::string> extra_env;  // "NAME=value", added to the test's environment
};

struct CliResult {
  int exit_code = -1;       // 128 + signal number when killed by a signal
  std::string stdout_text;  // empty unless keep_stdout
  uint64_t stdout_size = 0;
  std::string stdout_sha256;  // lowercase hex
  std::string stderr_text;
};

CliResult RunChunkcache(const std::vector<std::string>& args, const CliRunOptions& options = {});

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_CLIENT_CLI_RUNNER_H_
