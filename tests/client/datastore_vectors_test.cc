// `chunkcache datastore cat` and `verify` on the shared mini datastore (spec/vectors).
#include <gtest/gtest.h>

#include <string>

#include "tests/client/cli_runner.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {
namespace {

constexpr std::string_view kImageSha256 =
    "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061";
constexpr uint64_t kImageSize = 16782216;
constexpr std::string_view kPxarSha256 =
    "6eb275c1ef20d662d518a46b1c8a309fa83d72fafd1ef8ddcaabadfa415bf84a";
constexpr uint64_t kPxarSize = 104859232;
constexpr std::string_view kPlainVm = "vm/100/2026-01-01T00:00:00Z";
constexpr std::string_view kEncryptedVm = "ns/enc/vm/100/2026-01-02T00:00:00Z";

std::string Datastore() { return VectorPath("datastore").string(); }
std::string Key(std::string_view name) {
  return VectorPath("keys").string() + "/" + std::string(name);
}

CliResult Cat(std::string_view snapshot, std::string_view archive,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"datastore",  "cat",
                                   "--path",     Datastore(),
                                   "--snapshot", std::string(snapshot),
                                   "--archive",  std::string(archive)};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunChunkcache(args, {.keep_stdout = false});
}

TEST(DatastoreVectors, CatPlainVmImage) {
  CliResult result = Cat(kPlainVm, "drive-scsi0.img.fidx");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_size, kImageSize);
  EXPECT_EQ(result.stdout_sha256, kImageSha256);
}

TEST(DatastoreVectors, CatEncryptedVmImageWithUnprotectedKey) {
  CliResult result = Cat(kEncryptedVm, "drive-scsi0.img.fidx", {"--keyfile", Key("key-none.json")});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_sha256, kImageSha256);
}

TEST(DatastoreVectors, CatEncryptedVmImageWithPasswordProtectedKey) {
  ScratchDir scratch;
  WriteFileBytes(scratch / "password", "pbs-vector-password\n");
  CliResult result = Cat(
      kEncryptedVm, "drive-scsi0.img.fidx",
      {"--keyfile", Key("key-pbkdf2.json"), "--password-file", (scratch / "password").string()});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_sha256, kImageSha256);
}

TEST(DatastoreVectors, CatPxarPayloadStream) {
  CliResult result =
      Cat("host/pxar-payload/2024-05-07T14:25:51Z", "backup-client-pxar-data.ppxar.didx");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_size, kPxarSize);
  EXPECT_EQ(result.stdout_sha256, kPxarSha256);
}

TEST(DatastoreVectors, CatBlobArchivesDecodesThem) {
  CliResult plain = RunChunkcache({"datastore", "cat", "--path", Datastore(), "--snapshot",
                                   std::string(kPlainVm), "--archive", "qemu-server.conf.blob"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  EXPECT_EQ(plain.stdout_text.rfind("boot: order=scsi0\n", 0), 0u) << plain.stdout_text;
  CliResult encrypted = RunChunkcache({"datastore", "cat", "--path", Datastore(), "--snapshot",
                                       std::string(kEncryptedVm), "--archive",
                                       "qemu-server.conf.blob", "--keyfile", Key("key-none.json")});
  ASSERT_EQ(encrypted.exit_code, 0) << encrypted.stderr_text;
  EXPECT_EQ(encrypted.stdout_text, plain.stdout_text);
}

TEST(DatastoreVectors, EncryptedSnapshotWithoutKeyIsRefused) {
  CliResult result = Cat(kEncryptedVm, "drive-scsi0.img.fidx");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.stdout_size, 0u);
  EXPECT_EQ(result.stderr_text.rfind("chunkcache: ", 0), 0u);
  EXPECT_NE(result.stderr_text.find("encrypted"), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("--keyfile"), std::string::npos) << result.stderr_text;
}

TEST(DatastoreVectors, EncryptedSnapshotWithAnotherKeyIsRefused) {
  ScratchDir scratch;
  const std::string other_key = (scratch / "other.json").string();
  ASSERT_EQ(RunChunkcache({"key", "create", "--out", other_key}).exit_code, 0);
  CliResult result = Cat(kEncryptedVm, "drive-scsi0.img.fidx", {"--keyfile", other_key});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.stdout_size, 0u);
  EXPECT_NE(result.stderr_text.find("wrong key"), std::string::npos) << result.stderr_text;
}

TEST(DatastoreVectors, UnknownArchiveListsTheSnapshotsArchives) {
  CliResult result = Cat(kPlainVm, "drive-scsi1.img.fidx");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("drive-scsi0.img.fidx"), std::string::npos)
      << result.stderr_text;
}

TEST(DatastoreVectors, VerifyPassesWithoutKeyAndSaysWhatItCouldNotCheck) {
  CliResult result = RunChunkcache({"datastore", "verify", "--path", Datastore()});
  ASSERT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("verified 3 snapshots, 5 archives"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("0 bad chunks, 0 bad indexes, 0 bad manifests"),
            std::string::npos);
  EXPECT_NE(result.stdout_text.find(std::string(kEncryptedVm) + ": ok without key"),
            std::string::npos)
      << result.stdout_text;
}

TEST(DatastoreVectors, VerifyWithKeyChecksEverything) {
  CliResult result = RunChunkcache(
      {"datastore", "verify", "--path", Datastore(), "--keyfile", Key("key-none.json")});
  ASSERT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_EQ(result.stdout_text.find("without key"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find(std::string(kEncryptedVm) + ": ok ("), std::string::npos);

  CliResult one = RunChunkcache(
      {"datastore", "verify", "--path", Datastore(), "--snapshot", std::string(kPlainVm)});
  ASSERT_EQ(one.exit_code, 0) << one.stdout_text << one.stderr_text;
  EXPECT_NE(one.stdout_text.find("verified 1 snapshots, 2 archives, 5 chunk references (4 "
                                 "distinct chunks)"),
            std::string::npos)
      << one.stdout_text;
}

}  // namespace
}  // namespace chunkcache::testing
