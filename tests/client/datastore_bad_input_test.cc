// `chunkcache datastore verify` and `cat` on damaged datastores, and names that try to leave
// the datastore: every problem is reported with what and where, with a non-zero exit.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "format/chunk_index.h"
#include "format/digest.h"
#include "tests/client/cli_runner.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kSnapshot = "vm/100/2026-01-01T00:00:00Z";
constexpr std::string_view kArchive = "drive-scsi0.img.fidx";

std::set<std::string> TreeOf(const fs::path& root) {
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    entries.insert(fs::relative(entry.path(), root).string());
  }
  return entries;
}

void FlipByte(const fs::path& path, size_t offset) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x40);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  WriteFileBytes(path, bytes);
}

// A datastore with one plain snapshot (a 3-chunk image) and one encrypted snapshot.
class DamagedDatastore : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(2 * kFixedChunkSize + 5000, 21);
    WriteFileBytes(scratch_ / "image", image_);
    ASSERT_EQ(RunChunkcache({"key", "create", "--out", key_.string()}).exit_code, 0);
    ASSERT_EQ(Create(kSnapshot, false).exit_code, 0);
    ASSERT_EQ(Create(encrypted_snapshot_, true).exit_code, 0);
    absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(ReadFileBytes(IndexPath(kSnapshot)));
    ASSERT_TRUE(index.ok()) << index.status();
    digests_ = index->digests();
    absl::StatusOr<ChunkIndex> encrypted =
        ChunkIndex::Parse(ReadFileBytes(IndexPath(encrypted_snapshot_)));
    ASSERT_TRUE(encrypted.ok()) << encrypted.status();
    encrypted_digests_ = encrypted->digests();
    ASSERT_EQ(digests_.size(), 3u);
  }

  CliResult Create(std::string_view snapshot, bool encrypted) {
    std::vector<std::string> args = {"datastore",  "create",
                                     "--path",     ds_.string(),
                                     "--snapshot", std::string(snapshot),
                                     "--archive",  std::string(kArchive),
                                     "--image",    (scratch_ / "image").string()};
    if (encrypted) args.insert(args.end(), {"--keyfile", key_.string()});
    return RunChunkcache(args);
  }

  CliResult Verify(bool with_key = false) {
    std::vector<std::string> args = {"datastore", "verify", "--path", ds_.string()};
    if (with_key) args.insert(args.end(), {"--keyfile", key_.string()});
    return RunChunkcache(args);
  }

  CliResult Cat(std::string_view snapshot = kSnapshot) {
    return RunChunkcache({"datastore", "cat", "--path", ds_.string(), "--snapshot",
                          std::string(snapshot), "--archive", std::string(kArchive)},
                         {.keep_stdout = false});
  }

  fs::path ChunkPath(const ChunkDigest& digest) const {
    return ds_ / ".chunks" / digest.Hex().substr(0, 4) / digest.Hex();
  }
  fs::path IndexPath(std::string_view snapshot) const { return ds_ / snapshot / kArchive; }

  static void ExpectFailureLine(const CliResult& result) {
    EXPECT_EQ(result.exit_code, 1) << result.stdout_text << result.stderr_text;
    EXPECT_EQ(result.stderr_text.rfind("chunkcache: ", 0), 0u) << result.stderr_text;
  }

  ScratchDir scratch_;
  fs::path ds_ = scratch_ / "ds";
  fs::path key_ = scratch_ / "key.json";
  std::string encrypted_snapshot_ = "ns/enc/vm/100/2026-01-01T00:00:00Z";
  std::string image_;
  std::vector<ChunkDigest> digests_;
  std::vector<ChunkDigest> encrypted_digests_;
};

TEST_F(DamagedDatastore, IntactDatastoreVerifies) {
  CliResult result = Verify(true);
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_EQ(Cat().stdout_sha256, Sha256Hex(image_));
}

TEST_F(DamagedDatastore, CorruptChunkIsReportedByVerifyAndFailsCat) {
  const ChunkDigest& bad = digests_[1];
  FlipByte(ChunkPath(bad), 100);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  const std::string line = "bad chunk " + bad.Hex() + ": reason=crc path=.chunks/" +
                           bad.Hex().substr(0, 4) + "/" + bad.Hex();
  EXPECT_NE(verify.stdout_text.find(line), std::string::npos) << verify.stdout_text;
  EXPECT_NE(verify.stdout_text.find("1 bad chunks, 0 bad indexes"), std::string::npos);
  // The other chunks are fine and not reported.
  EXPECT_EQ(verify.stdout_text.find("bad chunk " + digests_[0].Hex()), std::string::npos);

  CliResult cat = Cat();
  ExpectFailureLine(cat);
  EXPECT_NE(cat.stderr_text.find(bad.Hex()), std::string::npos) << cat.stderr_text;
  EXPECT_NE(cat.stderr_text.find("CRC"), std::string::npos) << cat.stderr_text;
  EXPECT_EQ(cat.stdout_size, kFixedChunkSize) << "output stops before the bad chunk";
}

TEST_F(DamagedDatastore, MissingChunkIsReported) {
  fs::remove(ChunkPath(digests_[2]));
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("bad chunk " + digests_[2].Hex() + ": reason=missing"),
            std::string::npos)
      << verify.stdout_text;
  ExpectFailureLine(Cat());
}

TEST_F(DamagedDatastore, ZeroByteChunkIsNotData) {
  fs::resize_file(ChunkPath(digests_[0]), 0);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("bad chunk " + digests_[0].Hex() + ": reason=missing"),
            std::string::npos)
      << verify.stdout_text;
  CliResult cat = Cat();
  ExpectFailureLine(cat);
  EXPECT_NE(cat.stderr_text.find("0-byte"), std::string::npos) << cat.stderr_text;
  EXPECT_EQ(cat.stdout_size, 0u);
}

TEST_F(DamagedDatastore, TruncatedIndexIsReported) {
  fs::resize_file(IndexPath(kSnapshot), kIndexHeaderSize + 10);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("bad index " + std::string(kSnapshot) + "/" +
                                    std::string(kArchive) + ": reason=format"),
            std::string::npos)
      << verify.stdout_text;
  CliResult cat = Cat();
  ExpectFailureLine(cat);
  EXPECT_EQ(cat.stdout_size, 0u);
}

TEST_F(DamagedDatastore, IndexThatDoesNotMatchTheManifestIsReported) {
  // A valid index of other content in place of the real one.
  WriteFileBytes(scratch_ / "other", "other content");
  ASSERT_EQ(RunChunkcache({"datastore", "create", "--path", (scratch_ / "ds2").string(),
                           "--snapshot", std::string(kSnapshot), "--archive", std::string(kArchive),
                           "--image", (scratch_ / "other").string()})
                .exit_code,
            0);
  fs::copy_file(scratch_ / "ds2" / kSnapshot / kArchive, IndexPath(kSnapshot),
                fs::copy_options::overwrite_existing);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("reason=manifest"), std::string::npos) << verify.stdout_text;
  CliResult cat = Cat();
  ExpectFailureLine(cat);
  EXPECT_EQ(cat.stdout_size, 0u);
}

TEST_F(DamagedDatastore, CorruptManifestIsReported) {
  FlipByte(ds_ / kSnapshot / "index.json.blob", 20);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("bad manifest " + std::string(kSnapshot) + "/index.json.blob"),
            std::string::npos)
      << verify.stdout_text;
  ExpectFailureLine(Cat());
}

TEST_F(DamagedDatastore, CorruptEncryptedChunkIsFoundEvenWithoutKey) {
  FlipByte(ChunkPath(encrypted_digests_[0]), 60);
  for (bool with_key : {false, true}) {
    CliResult verify = Verify(with_key);
    ExpectFailureLine(verify);
    EXPECT_NE(verify.stdout_text.find("bad chunk " + encrypted_digests_[0].Hex()),
              std::string::npos)
        << "with_key=" << with_key << "\n"
        << verify.stdout_text;
  }
}

TEST_F(DamagedDatastore, PlainChunkInAnEncryptedArchiveFailsTheCryptModeCheck) {
  fs::permissions(ChunkPath(encrypted_digests_[1]), fs::perms::owner_write, fs::perm_options::add);
  fs::copy_file(ChunkPath(digests_[1]), ChunkPath(encrypted_digests_[1]),
                fs::copy_options::overwrite_existing);
  CliResult verify = Verify();
  ExpectFailureLine(verify);
  EXPECT_NE(verify.stdout_text.find("bad chunk " + encrypted_digests_[1].Hex() + ": reason=format"),
            std::string::npos)
      << verify.stdout_text;
}

TEST_F(DamagedDatastore, NamesThatLeaveTheDatastoreAreUsageErrorsAndCreateNothing) {
  const fs::path outside = scratch_.path().parent_path();
  const std::string marker = "chunkcache-escape-" + std::to_string(::getpid());
  const std::set<std::string> before = TreeOf(scratch_.path());
  const std::vector<std::pair<std::string, std::string>> names = {
      {"../../" + marker + "/vm/1/2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"/tmp/" + marker + "/vm/1/2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"ns/../../" + marker + "/vm/1/2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"ns/a/b/vm/1/2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"vm/../../" + marker + "/2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"vm/1/../2026-01-01T00:00:00Z", "drive.img.fidx"},
      {"vm/1/2026-01-01T00:00:00Z", "../../" + marker + ".fidx"},
      {"vm/1/2026-01-01T00:00:00Z", "../../.chunks/x.fidx"},
      {"vm/1/2026-01-01T00:00:00Z", "/tmp/" + marker + ".fidx"},
      {"vm/1/2026-01-01T00:00:00Z", "a/b.fidx"},
      {"vm/1/2026-01-01T00:00:00Z", ".."},
      {"vm/1/2026-01-01T00:00:00Z", "index.json.blob"},
  };
  for (const auto& [snapshot, archive] : names) {
    CliResult create =
        RunChunkcache({"datastore", "create", "--path", ds_.string(), "--snapshot", snapshot,
                       "--archive", archive, archive.ends_with(".didx") ? "--stream" : "--image",
                       (scratch_ / "image").string()});
    EXPECT_EQ(create.exit_code, 2) << snapshot << " " << archive << ": " << create.stderr_text;
    EXPECT_EQ(create.stderr_text.rfind("chunkcache: ", 0), 0u);
    CliResult cat = RunChunkcache(
        {"datastore", "cat", "--path", ds_.string(), "--snapshot", snapshot, "--archive", archive});
    EXPECT_NE(cat.exit_code, 0) << snapshot << " " << archive;
    EXPECT_EQ(cat.stdout_size, 0u);
  }
  CliResult verify = RunChunkcache({"datastore", "verify", "--path", ds_.string(), "--snapshot",
                                    "../../" + marker + "/vm/1/2026-01-01T00:00:00Z"});
  EXPECT_EQ(verify.exit_code, 2) << verify.stderr_text;
  EXPECT_EQ(TreeOf(scratch_.path()), before);
  EXPECT_FALSE(fs::exists(outside / marker));
  EXPECT_FALSE(fs::exists(fs::path("/tmp") / marker));
  EXPECT_FALSE(fs::exists(outside / (marker + ".fidx")));
}

TEST_F(DamagedDatastore, SymlinkInsideTheDatastoreIsNotFollowed) {
  fs::create_directories(scratch_ / "outside");
  fs::create_symlink(scratch_ / "outside", ds_ / "ct");
  CliResult create = RunChunkcache({"datastore", "create", "--path", ds_.string(), "--snapshot",
                                    "ct/5/2026-01-01T00:00:00Z", "--archive", "a.img.fidx",
                                    "--image", (scratch_ / "image").string()});
  ExpectFailureLine(create);
  EXPECT_NE(create.stderr_text.find("symbolic link"), std::string::npos) << create.stderr_text;
  EXPECT_TRUE(fs::is_empty(scratch_ / "outside"));

  // A snapshot reached through a link is neither read nor verified.
  fs::create_directories(scratch_ / "outside2/vm");
  fs::copy(ds_ / "vm/100", scratch_ / "outside2/vm/100", fs::copy_options::recursive);
  fs::create_directories(ds_ / "ns");
  fs::create_symlink(scratch_ / "outside2", ds_ / "ns/linked");
  CliResult cat = Cat("ns/linked/" + std::string(kSnapshot));
  ExpectFailureLine(cat);
  EXPECT_EQ(cat.stdout_size, 0u);
  CliResult verify = Verify(true);
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text;
  EXPECT_EQ(verify.stdout_text.find("linked"), std::string::npos) << verify.stdout_text;
}

TEST(DatastoreCommands, UsageAndInputErrors) {
  ScratchDir scratch;
  const std::string ds = (scratch / "ds").string();
  WriteFileBytes(scratch / "input", "data");
  const std::string input = (scratch / "input").string();
  const std::string snap = "vm/1/2026-01-01T00:00:00Z";
  struct Case {
    std::vector<std::string> args;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {{"datastore"}, 2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap}, 2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.img.fidx"}, 2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.img.fidx",
        "--stream", input},
       2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.didx", "--image",
        input},
       2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.img.fidx",
        "--image", input, "--password-env", "X"},
       2},
      {{"datastore", "create", "--path", ds, "--snapshot", "vm/1/yesterday", "--archive",
        "a.img.fidx", "--image", input},
       2},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.img.fidx",
        "--image", (scratch / "no-such-input").string()},
       1},
      {{"datastore", "create", "--path", ds, "--snapshot", snap, "--archive", "a.img.fidx",
        "--image", input, "--keyfile", (scratch / "no-such-key").string()},
       1},
      {{"datastore", "cat", "--path", (scratch / "no-such-ds").string(), "--snapshot", snap,
        "--archive", "a.img.fidx"},
       1},
      {{"datastore", "verify", "--path", (scratch / "no-such-ds").string()}, 1},
      {{"datastore", "verify", "--path", ds, "--unknown-flag"}, 2},
  };
  for (const Case& c : cases) {
    CliResult result = RunChunkcache(c.args);
    std::string joined;
    for (const std::string& a : c.args) joined += a + " ";
    EXPECT_EQ(result.exit_code, c.exit_code) << joined << "\n" << result.stderr_text;
    EXPECT_EQ(result.stderr_text.rfind("chunkcache: ", 0), 0u) << joined << result.stderr_text;
  }
  EXPECT_FALSE(fs::exists(scratch / "ds" / snap));
}

}  // namespace
}  // namespace chunkcache::testing
