// `chunkcache key create`, run as a real process.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "tests/client/cli_runner.h"
#include "tests/testing/test_env.h"
#include "upstream/key_source.h"

namespace chunkcache::testing {
namespace {

namespace fs = std::filesystem;

mode_t PermissionsOf(const fs::path& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST(KeyCreate, WritesAPrivateKeyFileThatLoads) {
  ScratchDir scratch;
  const fs::path key_file = scratch / "key.json";
  CliResult result = RunChunkcache({"key", "create", "--out", key_file.string()});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(PermissionsOf(key_file), 0600u);
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(key_file, {});
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_NE(result.stdout_text.find(key->FingerprintText()), std::string::npos)
      << result.stdout_text;
}

TEST(KeyCreate, RefusesToOverwriteWithoutForce) {
  ScratchDir scratch;
  const fs::path key_file = scratch / "key.json";
  ASSERT_EQ(RunChunkcache({"key", "create", "--out", key_file.string()}).exit_code, 0);
  const std::string first = ReadFileBytes(key_file);

  CliResult again = RunChunkcache({"key", "create", "--out", key_file.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.stderr_text.rfind("chunkcache: ", 0), 0u) << again.stderr_text;
  EXPECT_NE(again.stderr_text.find("--force"), std::string::npos);
  EXPECT_EQ(ReadFileBytes(key_file), first);

  CliResult forced = RunChunkcache({"key", "create", "--out", key_file.string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.stderr_text;
  EXPECT_NE(ReadFileBytes(key_file), first);
  EXPECT_EQ(PermissionsOf(key_file), 0600u);
}

TEST(KeyCreate, PasswordProtectedKeysNeedTheirPassword) {
  ScratchDir scratch;
  const fs::path pbkdf2 = scratch / "pbkdf2.json";
  CliResult from_env = RunChunkcache({"key", "create", "--out", pbkdf2.string(), "--kdf", "pbkdf2",
                                      "--password-env", "CHUNKCACHE_TEST_PW"},
                                     {.extra_env = {"CHUNKCACHE_TEST_PW=correct horse"}});
  ASSERT_EQ(from_env.exit_code, 0) << from_env.stderr_text;
  EXPECT_TRUE(absl::IsFailedPrecondition(LoadCryptConfig(pbkdf2, {}).status()));

  WriteFileBytes(scratch / "password", "correct horse\n");
  absl::StatusOr<CryptConfig> loaded = LoadCryptConfig(pbkdf2, {.file = scratch / "password"});
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  const fs::path scrypt = scratch / "scrypt.json";
  CliResult from_file = RunChunkcache({"key", "create", "--out", scrypt.string(), "--kdf", "scrypt",
                                       "--password-file", (scratch / "password")});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.stderr_text;
  EXPECT_TRUE(LoadCryptConfig(scrypt, {.file = scratch / "password"}).ok());
}

TEST(KeyCreate, UsageErrorsExitWithTwo) {
  ScratchDir scratch;
  const std::string out = (scratch / "k.json").string();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"key", "create"},
           {"key", "create", "--out", out, "--kdf", "rot13"},
           {"key", "create", "--out", out, "--kdf", "scrypt"},
           {"key", "create", "--out", out, "--password-env", "X"},
           {"key"},
           {"no-such-command"},
       }) {
    CliResult result = RunChunkcache(args);
    EXPECT_EQ(result.exit_code, 2) << args.back() << ": " << result.stderr_text;
    EXPECT_EQ(result.stderr_text.rfind("chunkcache: ", 0), 0u) << result.stderr_text;
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(RunChunkcache({"--help"}).exit_code, 0);
}

}  // namespace
}  // namespace chunkcache::testing
