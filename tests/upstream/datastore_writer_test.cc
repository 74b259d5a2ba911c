// DatastoreWriter: PBS layout, dedup, atomic files, and refusal to write through names or links
// that leave the datastore.
#include "upstream/datastore_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/test_env.h"
#include "upstream/datastore_upstream.h"

namespace chunkcache {
namespace {

namespace fs = std::filesystem;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::WriteFileBytes;

SnapshotName Parse(std::string_view text) {
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(text);
  EXPECT_TRUE(name.ok()) << name.status();
  return name.value_or(SnapshotName{});
}

std::set<std::string> TreeOf(const fs::path& root) {
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    entries.insert(fs::relative(entry.path(), root).string());
  }
  return entries;
}

class DatastoreWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer = DatastoreWriter::Create(root_);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
  }

  ScratchDir scratch_;
  fs::path root_ = scratch_ / "a/new/datastore";
  std::unique_ptr<DatastoreWriter> writer_;
};

TEST_F(DatastoreWriterTest, CreatesTheChunkStoreAndPrefixDirectoriesOnDemand) {
  EXPECT_TRUE(fs::is_directory(root_ / ".chunks"));
  EXPECT_TRUE(fs::is_empty(root_ / ".chunks"));
  const ChunkDigest digest = Sha256("data");
  absl::StatusOr<bool> written = writer_->WriteChunk(digest, "blob bytes");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written);
  const fs::path file = root_ / ".chunks" / digest.Hex().substr(0, 4) / digest.Hex();
  EXPECT_EQ(ReadFileBytes(file), "blob bytes");
  // Only the one prefix directory and the one chunk, no temporary files left behind.
  EXPECT_EQ(TreeOf(root_ / ".chunks"),
            (std::set<std::string>{digest.Hex().substr(0, 4),
                                   digest.Hex().substr(0, 4) + "/" + digest.Hex()}));
  EXPECT_TRUE(writer_->Sync().ok());
}

TEST_F(DatastoreWriterTest, ExistingChunksAreNotRewritten) {
  const ChunkDigest digest = Sha256("data");
  ASSERT_TRUE(writer_->WriteChunk(digest, "first").ok());
  const fs::path file = root_ / ".chunks" / digest.Hex().substr(0, 4) / digest.Hex();
  struct stat before;
  ASSERT_EQ(::stat(file.c_str(), &before), 0);

  absl::StatusOr<bool> again = writer_->WriteChunk(digest, "second");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  EXPECT_EQ(ReadFileBytes(file), "first");
  struct stat after;
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_TRUE(*writer_->HasChunk(digest));
  EXPECT_FALSE(*writer_->HasChunk(Sha256("other")));
}

TEST_F(DatastoreWriterTest, ZeroByteMarkerIsReplacedByTheChunk) {
  const ChunkDigest digest = Sha256("data");
  WriteFileBytes(root_ / ".chunks" / digest.Hex().substr(0, 4) / digest.Hex(), "");
  EXPECT_FALSE(*writer_->HasChunk(digest));
  absl::StatusOr<bool> written = writer_->WriteChunk(digest, "real");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written);
  EXPECT_EQ(ReadFileBytes(root_ / ".chunks" / digest.Hex().substr(0, 4) / digest.Hex()), "real");
}

TEST_F(DatastoreWriterTest, ConcurrentWritersOfOneChunkLeaveOneWholeFile) {
  const ChunkDigest digest = Sha256("shared");
  const std::string blob(256 * 1024, 'c');
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (!writer_->WriteChunk(digest, blob).ok()) ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const fs::path prefix = root_ / ".chunks" / digest.Hex().substr(0, 4);
  EXPECT_EQ(TreeOf(prefix), std::set<std::string>{digest.Hex()});
  EXPECT_EQ(ReadFileBytes(prefix / digest.Hex()), blob);
}

TEST_F(DatastoreWriterTest, WritesSnapshotFilesAndOwnerLikePbs) {
  const SnapshotName snapshot = Parse("ns/a/ns/b/vm/100/2026-01-01T00:00:00Z");
  ASSERT_TRUE(writer_->WriteSnapshotFile(snapshot, "drive-scsi0.img.fidx", "index").ok());
  ASSERT_TRUE(writer_->WriteSnapshotFile(snapshot, "index.json.blob", "manifest").ok());
  ASSERT_TRUE(writer_->EnsureGroupOwner(snapshot).ok());
  const fs::path dir = root_ / "ns/a/ns/b/vm/100/2026-01-01T00:00:00Z";
  EXPECT_EQ(ReadFileBytes(dir / "drive-scsi0.img.fidx"), "index");
  EXPECT_EQ(ReadFileBytes(dir / "index.json.blob"), "manifest");
  EXPECT_EQ(ReadFileBytes(root_ / "ns/a/ns/b/vm/100/owner"), "root@pam\n");
  EXPECT_EQ(TreeOf(dir), (std::set<std::string>{"drive-scsi0.img.fidx", "index.json.blob"}));

  // Replacing a file is atomic and complete; an existing owner is kept.
  ASSERT_TRUE(writer_->WriteSnapshotFile(snapshot, "index.json.blob", "manifest 2").ok());
  EXPECT_EQ(ReadFileBytes(dir / "index.json.blob"), "manifest 2");
  ASSERT_TRUE(writer_->EnsureGroupOwner(snapshot, "backup@pbs").ok());
  EXPECT_EQ(ReadFileBytes(root_ / "ns/a/ns/b/vm/100/owner"), "root@pam\n");

  // What was written reads back through the reader.
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> reader = DatastoreUpstream::Open(root_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(*(*reader)->ReadSnapshotFile(snapshot, "index.json.blob"), "manifest 2");
}

TEST_F(DatastoreWriterTest, InvalidNamesWriteNothing) {
  const std::set<std::string> before = TreeOf(scratch_.path());
  SnapshotName escaping = Parse("vm/100/2026-01-01T00:00:00Z");
  escaping.backup_id = "../../../escaped";
  EXPECT_TRUE(absl::IsInvalidArgument(writer_->WriteSnapshotFile(escaping, "x.fidx", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(writer_->EnsureGroupOwner(escaping)));
  SnapshotName ns_escaping = Parse("vm/100/2026-01-01T00:00:00Z");
  ns_escaping.namespace_components = {"..", ".."};
  EXPECT_TRUE(absl::IsInvalidArgument(writer_->WriteSnapshotFile(ns_escaping, "x.fidx", "x")));
  const SnapshotName good = Parse("vm/100/2026-01-01T00:00:00Z");
  for (std::string_view name : {"../../x.fidx", "/tmp/x.fidx", "a/b.blob", "..", "owner"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(writer_->WriteSnapshotFile(good, name, "x"))) << name;
  }
  EXPECT_EQ(TreeOf(scratch_.path()), before);
}

TEST_F(DatastoreWriterTest, SymlinkedDirectoryIsNotWrittenThrough) {
  fs::create_directories(scratch_ / "outside");
  fs::create_directories(root_ / "vm");
  fs::create_symlink(scratch_ / "outside", root_ / "vm/100");
  absl::Status status = writer_->WriteSnapshotFile(Parse("vm/100/2026-01-01T00:00:00Z"),
                                                   "index.json.blob", "manifest");
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_TRUE(fs::is_empty(scratch_ / "outside"));
}

TEST(DatastoreWriterCreate, OpensAnExistingDatastoreAsIs) {
  ScratchDir scratch;
  {
    auto writer = DatastoreWriter::Create(scratch.path());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->WriteChunk(Sha256("x"), "kept").ok());
  }
  auto again = DatastoreWriter::Create(scratch.path());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*(*again)->HasChunk(Sha256("x")));
}

}  // namespace
}  // namespace chunkcache
