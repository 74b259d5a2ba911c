// LoadCryptConfig with the vector key files, passwords from files and the environment, and the
// errors a user sees.
#include "upstream/key_source.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::VectorPath;
using ::chunkcache::testing::WriteFileBytes;

constexpr std::string_view kVectorFingerprint =
    "0e:ab:d4:46:0b:6e:b9:ca:34:50:23:de:e2:b7:78:c7:90:e5:4a:16:83:b9:65:9c:0a:57:ae:19:90:90:15:"
    "9b";
constexpr std::string_view kVectorPassword = "pbs-vector-password";

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

TEST(LoadCryptConfig, KeyWithoutKdfNeedsNoPassword) {
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(VectorPath("keys/key-none.json"), {});
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->FingerprintText(), kVectorFingerprint);
}

TEST(LoadCryptConfig, PasswordFromFileWithOrWithoutTrailingNewline) {
  ScratchDir scratch;
  for (const std::string& text :
       {std::string(kVectorPassword) + "\n", std::string(kVectorPassword) + "\r\n",
        std::string(kVectorPassword)}) {
    WriteFileBytes(scratch / "password", text);
    absl::StatusOr<CryptConfig> key =
        LoadCryptConfig(VectorPath("keys/key-pbkdf2.json"), {.file = scratch / "password"});
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->FingerprintText(), kVectorFingerprint);
  }
}

TEST(LoadCryptConfig, PasswordFromEnvironment) {
  ASSERT_EQ(::setenv("CHUNKCACHE_TEST_KEY_PASSWORD", std::string(kVectorPassword).c_str(), 1), 0);
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(VectorPath("keys/key-scrypt.json"),
                                                    {.env_var = "CHUNKCACHE_TEST_KEY_PASSWORD"});
  ::unsetenv("CHUNKCACHE_TEST_KEY_PASSWORD");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->FingerprintText(), kVectorFingerprint);
}

TEST(LoadCryptConfig, ProtectedKeyWithoutPasswordIsAClearError) {
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(VectorPath("keys/key-pbkdf2.json"), {});
  EXPECT_TRUE(absl::IsFailedPrecondition(key.status())) << key.status();
  EXPECT_NE(MessageOf(key.status()).find("key-pbkdf2.json"), std::string::npos);
  EXPECT_NE(MessageOf(key.status()).find("password"), std::string::npos);
}

TEST(LoadCryptConfig, WrongPasswordFails) {
  ScratchDir scratch;
  WriteFileBytes(scratch / "password", "not-the-password\n");
  absl::StatusOr<CryptConfig> key =
      LoadCryptConfig(VectorPath("keys/key-pbkdf2.json"), {.file = scratch / "password"});
  EXPECT_FALSE(key.ok());
  EXPECT_NE(MessageOf(key.status()).find("key-pbkdf2.json"), std::string::npos) << key.status();
}

TEST(LoadCryptConfig, ReportsBadSourcesByName) {
  ScratchDir scratch;
  absl::StatusOr<CryptConfig> missing = LoadCryptConfig(scratch / "no-such-key.json", {});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(MessageOf(missing.status()).find("no-such-key.json"), std::string::npos);

  WriteFileBytes(scratch / "garbage.json", "{not json");
  absl::StatusOr<CryptConfig> garbage = LoadCryptConfig(scratch / "garbage.json", {});
  EXPECT_FALSE(garbage.ok());
  EXPECT_NE(MessageOf(garbage.status()).find("garbage.json"), std::string::npos);

  ::unsetenv("CHUNKCACHE_TEST_UNSET_VARIABLE");
  absl::StatusOr<CryptConfig> unset = LoadCryptConfig(
      VectorPath("keys/key-pbkdf2.json"), {.env_var = "CHUNKCACHE_TEST_UNSET_VARIABLE"});
  EXPECT_TRUE(absl::IsFailedPrecondition(unset.status())) << unset.status();
  EXPECT_NE(MessageOf(unset.status()).find("CHUNKCACHE_TEST_UNSET_VARIABLE"), std::string::npos);

  absl::StatusOr<CryptConfig> missing_password_file =
      LoadCryptConfig(VectorPath("keys/key-pbkdf2.json"), {.file = scratch / "no-such-password"});
  EXPECT_TRUE(absl::IsNotFound(missing_password_file.status()));

  absl::StatusOr<std::optional<std::string>> both =
      ReadPassword({.file = scratch / "x", .env_var = "X"});
  EXPECT_TRUE(absl::IsInvalidArgument(both.status()));
}

}  // namespace
}  // namespace chunkcache
