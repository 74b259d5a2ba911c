// `chunkcache datastore create` then `cat` gives back the input byte for byte, and `verify`
// passes: fixed and dynamic archives, plain and encrypted, root namespace and nested ones.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "format/chunk_index.h"
#include "tests/client/cli_runner.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {
namespace {

namespace fs = std::filesystem;
constexpr size_t kMiB = 1024 * 1024;

// The numbers of the "created …: size=… chunks=…" line.
std::map<std::string, uint64_t> SummaryOf(const std::string& text) {
  std::map<std::string, uint64_t> values;
  static const std::regex kField("(\\w+)=(\\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kField);
       it != std::sregex_iterator(); ++it) {
    values[(*it)[1]] = std::stoull((*it)[2]);
  }
  return values;
}

size_t CountChunkFiles(const fs::path& datastore) {
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(datastore / ".chunks")) {
    count += entry.is_regular_file();
  }
  return count;
}

// A fixed image whose second 4 MiB block repeats the first (when it has one), so the index
// references one chunk twice.
std::string MakeImage(size_t size, uint64_t seed) {
  std::string image = PseudoRandomBytes(size, seed);
  if (size >= 2 * kFixedChunkSize) {
    std::copy_n(image.begin(), kFixedChunkSize, image.begin() + kFixedChunkSize);
  }
  return image;
}

// About 20 MiB where 5 MiB and 3 MiB regions recur, so content-defined chunks repeat.
std::string MakeStream(uint64_t seed) {
  const std::string a = PseudoRandomBytes(5 * kMiB, seed);
  const std::string b = PseudoRandomBytes(3 * kMiB, seed + 1);
  return a + b + a + b + a + PseudoRandomBytes(kMiB + 12345, seed + 2);
}

enum class Kind { kFixed, kDynamic };

struct RoundTripCase {
  std::string name;
  Kind kind;
  size_t size;  // fixed: image size; dynamic: 0 (empty), 1, or anything else for MakeStream
  bool encrypted;
  std::string snapshot;
};

class DatastoreRoundTrip : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  void SetUp() override {
    if (GetParam().encrypted) {
      ASSERT_EQ(RunChunkcache({"key", "create", "--out", key_file_.string()}).exit_code, 0);
    }
  }

  std::vector<std::string> KeyArgs() const {
    if (!GetParam().encrypted) return {};
    return {"--keyfile", key_file_.string()};
  }

  std::vector<std::string> With(std::vector<std::string> args,
                                const std::vector<std::string>& more) const {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  ScratchDir scratch_;
  fs::path datastore_ = scratch_ / "datastore";
  fs::path key_file_ = scratch_ / "key.json";
};

TEST_P(DatastoreRoundTrip, CreateCatVerify) {
  const RoundTripCase& c = GetParam();
  const bool fixed = c.kind == Kind::kFixed;
  const std::string input = fixed         ? MakeImage(c.size, 11)
                            : c.size <= 1 ? PseudoRandomBytes(c.size, 12)
                                          : MakeStream(13);
  WriteFileBytes(scratch_ / "input", input);
  const std::string archive = fixed ? "drive-scsi0.img.fidx" : "root.pxar.didx";

  CliResult created = RunChunkcache(
      With({"datastore", "create", "--path", datastore_.string(), "--snapshot", c.snapshot,
            "--archive", archive, fixed ? "--image" : "--stream", (scratch_ / "input").string()},
           KeyArgs()));
  ASSERT_EQ(created.exit_code, 0) << created.stderr_text;
  std::map<std::string, uint64_t> summary = SummaryOf(created.stdout_text);
  EXPECT_EQ(summary["size"], input.size()) << created.stdout_text;
  if (fixed) {
    const uint64_t chunks = (input.size() + kFixedChunkSize - 1) / kFixedChunkSize;
    EXPECT_EQ(summary["chunks"], chunks);
    EXPECT_EQ(summary["distinct"], input.size() >= 2 * kFixedChunkSize ? chunks - 1 : chunks);
  } else if (input.size() > 1) {
    EXPECT_GE(summary["chunks"], 5u) << created.stdout_text;
    EXPECT_LT(summary["distinct"], summary["chunks"]) << "repeated regions should dedup";
  }
  EXPECT_EQ(summary["new_chunks"], summary["distinct"]);
  EXPECT_EQ(CountChunkFiles(datastore_), summary["distinct"]);

  // PBS layout: the snapshot directory, its manifest, the group's owner.
  const fs::path snapshot_dir = datastore_ / c.snapshot;
  EXPECT_TRUE(fs::is_regular_file(snapshot_dir / "index.json.blob"));
  EXPECT_TRUE(fs::is_regular_file(snapshot_dir / archive));
  EXPECT_EQ(ReadFileBytes(snapshot_dir.parent_path() / "owner"), "root@pam\n");

  CliResult cat = RunChunkcache(With({"datastore", "cat", "--path", datastore_.string(),
                                      "--snapshot", c.snapshot, "--archive", archive},
                                     KeyArgs()),
                                {.keep_stdout = false});
  ASSERT_EQ(cat.exit_code, 0) << cat.stderr_text;
  EXPECT_EQ(cat.stdout_size, input.size());
  EXPECT_EQ(cat.stdout_sha256, Sha256Hex(input));

  CliResult verify =
      RunChunkcache(With({"datastore", "verify", "--path", datastore_.string()}, KeyArgs()));
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  EXPECT_NE(verify.stdout_text.find(c.snapshot + ": ok ("), std::string::npos)
      << verify.stdout_text;

  if (c.encrypted) {
    CliResult no_key = RunChunkcache({"datastore", "cat", "--path", datastore_.string(),
                                      "--snapshot", c.snapshot, "--archive", archive});
    EXPECT_EQ(no_key.exit_code, 1);
    EXPECT_EQ(no_key.stdout_size, 0u);
    CliResult verify_no_key = RunChunkcache({"datastore", "verify", "--path", datastore_.string()});
    EXPECT_EQ(verify_no_key.exit_code, 0) << verify_no_key.stdout_text;
    EXPECT_NE(verify_no_key.stdout_text.find(c.snapshot + ": ok without key"), std::string::npos)
        << verify_no_key.stdout_text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Archives, DatastoreRoundTrip,
    ::testing::Values(
        RoundTripCase{"fixed_empty", Kind::kFixed, 0, false, "vm/100/2026-01-01T00:00:00Z"},
        RoundTripCase{"fixed_one_byte", Kind::kFixed, 1, false, "vm/100/2026-01-01T00:00:00Z"},
        RoundTripCase{"fixed_8MiB", Kind::kFixed, 8 * kMiB, false, "vm/100/2026-01-01T00:00:00Z"},
        RoundTripCase{"fixed_8MiB_5000_namespace", Kind::kFixed, 8 * kMiB + 5000, false,
                      "ns/tenant/ns/prod/vm/100/2026-01-01T00:00:00Z"},
        RoundTripCase{"fixed_8MiB_5000_encrypted_namespace", Kind::kFixed, 8 * kMiB + 5000, true,
                      "ns/enc/vm/101/2026-02-03T04:05:06Z"},
        RoundTripCase{"fixed_one_byte_encrypted", Kind::kFixed, 1, true,
                      "ct/200/2026-01-01T00:00:00Z"},
        RoundTripCase{"dynamic_empty", Kind::kDynamic, 0, false, "host/web/2026-01-01T00:00:00Z"},
        RoundTripCase{"dynamic_20MiB", Kind::kDynamic, 20 * kMiB, false,
                      "host/web/2026-01-01T00:00:00Z"},
        RoundTripCase{"dynamic_20MiB_encrypted_namespace", Kind::kDynamic, 20 * kMiB, true,
                      "ns/enc/ct/200/2026-01-01T00:00:00Z"},
        RoundTripCase{"dynamic_one_byte_encrypted", Kind::kDynamic, 1, true,
                      "host/web/2026-01-01T00:00:00Z"}),
    [](const ::testing::TestParamInfo<RoundTripCase>& info) { return info.param.name; });

TEST(DatastoreCreate, StreamFromStdin) {
  ScratchDir scratch;
  const std::string input = PseudoRandomBytes(3 * kMiB + 77, 5);
  WriteFileBytes(scratch / "input", input);
  const std::string ds = (scratch / "ds").string();
  CliResult created =
      RunChunkcache({"datastore", "create", "--path", ds, "--snapshot",
                     "host/h/2026-01-01T00:00:00Z", "--archive", "s.pxar.didx", "--stream", "-"},
                    {.stdin_file = scratch / "input"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_text;
  CliResult cat = RunChunkcache({"datastore", "cat", "--path", ds, "--snapshot",
                                 "host/h/2026-01-01T00:00:00Z", "--archive", "s.pxar.didx"});
  ASSERT_EQ(cat.exit_code, 0) << cat.stderr_text;
  EXPECT_EQ(cat.stdout_text, input);
}

TEST(DatastoreCreate, ArchivesAddedToASnapshotKeepTheOthers) {
  ScratchDir scratch;
  const std::string ds = (scratch / "ds").string();
  const std::string snap = "vm/100/2026-01-01T00:00:00Z";
  const std::string image = PseudoRandomBytes(kMiB, 1);
  const std::string stream = PseudoRandomBytes(2 * kMiB, 2);
  const std::string config = "cores: 2\nmemory: 4096\n";
  WriteFileBytes(scratch / "image", image);
  WriteFileBytes(scratch / "stream", stream);
  WriteFileBytes(scratch / "config", config);
  const std::vector<std::vector<std::string>> adds = {
      {"--archive", "drive-scsi0.img.fidx", "--image", (scratch / "image").string()},
      {"--archive", "catalog.pcat1.didx", "--stream", (scratch / "stream").string()},
      {"--archive", "qemu-server.conf.blob", "--blob", (scratch / "config").string()},
  };
  for (const auto& add : adds) {
    std::vector<std::string> args = {"datastore", "create", "--path", ds, "--snapshot", snap};
    args.insert(args.end(), add.begin(), add.end());
    CliResult created = RunChunkcache(args);
    ASSERT_EQ(created.exit_code, 0) << created.stderr_text;
  }
  const std::map<std::string, std::string> expected = {{"drive-scsi0.img.fidx", image},
                                                       {"catalog.pcat1.didx", stream},
                                                       {"qemu-server.conf.blob", config}};
  for (const auto& [archive, content] : expected) {
    CliResult cat =
        RunChunkcache({"datastore", "cat", "--path", ds, "--snapshot", snap, "--archive", archive});
    ASSERT_EQ(cat.exit_code, 0) << archive << ": " << cat.stderr_text;
    EXPECT_EQ(cat.stdout_text, content) << archive;
  }
  CliResult verify = RunChunkcache({"datastore", "verify", "--path", ds});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text;
  EXPECT_NE(verify.stdout_text.find("ok (3 archives"), std::string::npos) << verify.stdout_text;

  // The same archive again is refused and changes nothing.
  CliResult again =
      RunChunkcache({"datastore", "create", "--path", ds, "--snapshot", snap, "--archive",
                     "drive-scsi0.img.fidx", "--image", (scratch / "stream").string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.stderr_text.find("already has archive drive-scsi0.img.fidx"), std::string::npos)
      << again.stderr_text;
  CliResult still = RunChunkcache(
      {"datastore", "cat", "--path", ds, "--snapshot", snap, "--archive", "drive-scsi0.img.fidx"});
  EXPECT_EQ(still.stdout_text, image);
}

TEST(DatastoreCreate, ExistingChunksAreNotRewritten) {
  ScratchDir scratch;
  const std::string ds = (scratch / "ds").string();
  WriteFileBytes(scratch / "image", PseudoRandomBytes(2 * kFixedChunkSize + 10, 3));
  auto create = [&](const std::string& snap) {
    return RunChunkcache({"datastore", "create", "--path", ds, "--snapshot", snap, "--archive",
                          "drive-scsi0.img.fidx", "--image", (scratch / "image").string()});
  };
  CliResult first = create("vm/100/2026-01-01T00:00:00Z");
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  EXPECT_EQ(SummaryOf(first.stdout_text)["new_chunks"], 3u);
  std::map<fs::path, ino_t> inodes;
  for (const auto& entry : fs::recursive_directory_iterator(scratch / "ds/.chunks")) {
    struct stat st;
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    inodes[entry.path()] = st.st_ino;
  }
  CliResult second = create("vm/100/2026-01-02T00:00:00Z");
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  EXPECT_EQ(SummaryOf(second.stdout_text)["new_chunks"], 0u) << second.stdout_text;
  for (const auto& [path, inode] : inodes) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_ino, inode) << path;
  }
}

TEST(DatastoreCreate, PlainAndEncryptedArchivesDoNotMixInOneSnapshot) {
  ScratchDir scratch;
  const std::string ds = (scratch / "ds").string();
  const std::string key = (scratch / "key.json").string();
  ASSERT_EQ(RunChunkcache({"key", "create", "--out", key}).exit_code, 0);
  WriteFileBytes(scratch / "image", "small image");
  auto create = [&](const std::string& snap, const std::string& archive, bool with_key) {
    std::vector<std::string> args = {
        "datastore", "create",    "--path", ds,        "--snapshot",
        snap,        "--archive", archive,  "--image", (scratch / "image").string()};
    if (with_key) args.insert(args.end(), {"--keyfile", key});
    return RunChunkcache(args);
  };
  ASSERT_EQ(create("vm/1/2026-01-01T00:00:00Z", "a.img.fidx", false).exit_code, 0);
  CliResult encrypted_into_plain = create("vm/1/2026-01-01T00:00:00Z", "b.img.fidx", true);
  EXPECT_EQ(encrypted_into_plain.exit_code, 1);
  EXPECT_NE(encrypted_into_plain.stderr_text.find("not encrypted"), std::string::npos);

  ASSERT_EQ(create("vm/2/2026-01-01T00:00:00Z", "a.img.fidx", true).exit_code, 0);
  CliResult plain_into_encrypted = create("vm/2/2026-01-01T00:00:00Z", "b.img.fidx", false);
  EXPECT_EQ(plain_into_encrypted.exit_code, 1);
  EXPECT_NE(plain_into_encrypted.stderr_text.find("--keyfile"), std::string::npos);
  EXPECT_EQ(create("vm/2/2026-01-01T00:00:00Z", "b.img.fidx", true).exit_code, 0);
}

}  // namespace
}  // namespace chunkcache::testing
