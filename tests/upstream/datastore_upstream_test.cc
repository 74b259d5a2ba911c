// DatastoreUpstream beyond the conformance suite: the shared vector datastore, symbolic links
// that point outside, odd files, and the error codes and messages.
#include "upstream/datastore_upstream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/testing/test_env.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_writer.h"

namespace chunkcache {
namespace {

namespace fs = std::filesystem;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::VectorPath;
using ::chunkcache::testing::WriteFileBytes;

constexpr std::string_view kZeroChunk =
    "bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8";

SnapshotName Parse(std::string_view text) {
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(text);
  EXPECT_TRUE(name.ok()) << name.status();
  return name.value_or(SnapshotName{});
}

ChunkDigest Digest(std::string_view hex) {
  absl::StatusOr<ChunkDigest> digest = ChunkDigest::FromHex(hex);
  EXPECT_TRUE(digest.ok()) << digest.status();
  return digest.value_or(ChunkDigest{});
}

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

std::unique_ptr<DatastoreUpstream> OpenOrDie(const fs::path& path) {
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream = DatastoreUpstream::Open(path);
  EXPECT_TRUE(upstream.ok()) << upstream.status();
  return upstream.ok() ? std::move(*upstream) : nullptr;
}

TEST(DatastoreUpstreamVectors, ListsTheThreeSnapshotsInOrder) {
  auto upstream = OpenOrDie(VectorPath("datastore"));
  ASSERT_NE(upstream, nullptr);
  absl::StatusOr<std::vector<SnapshotName>> snapshots = upstream->ListSnapshots();
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  std::vector<std::string> names;
  for (const SnapshotName& s : *snapshots) names.push_back(s.RelativeDir());
  EXPECT_EQ(names, (std::vector<std::string>{"host/pxar-payload/2024-05-07T14:25:51Z",
                                             "vm/100/2026-01-01T00:00:00Z",
                                             "ns/enc/vm/100/2026-01-02T00:00:00Z"}));
}

TEST(DatastoreUpstreamVectors, ReadsFilesAndChunksAsStored) {
  const fs::path root = VectorPath("datastore");
  auto upstream = OpenOrDie(root);
  ASSERT_NE(upstream, nullptr);
  absl::StatusOr<std::string> index =
      upstream->ReadSnapshotFile(Parse("vm/100/2026-01-01T00:00:00Z"), "drive-scsi0.img.fidx");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(*index, ReadFileBytes(root / "vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx"));
  EXPECT_EQ(index->size(), 4256u);

  absl::StatusOr<std::string> chunk = upstream->ReadChunk(Digest(kZeroChunk));
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(*chunk, ReadFileBytes(root / ".chunks/bb9f" / kZeroChunk));
  EXPECT_EQ(chunk->size(), 159u);
  EXPECT_TRUE(upstream->CheckReadable().ok());
  EXPECT_EQ(upstream->Describe(), "datastore " + root.string());
}

TEST(DatastoreUpstreamVectors, NotFoundNamesThePathInTheDatastore) {
  auto upstream = OpenOrDie(VectorPath("datastore"));
  ASSERT_NE(upstream, nullptr);
  absl::StatusOr<std::string> file =
      upstream->ReadSnapshotFile(Parse("vm/100/2026-01-01T00:00:00Z"), "drive-scsi1.img.fidx");
  EXPECT_TRUE(absl::IsNotFound(file.status()));
  EXPECT_NE(MessageOf(file.status()).find("vm/100/2026-01-01T00:00:00Z/drive-scsi1.img.fidx"),
            std::string::npos)
      << file.status();

  absl::StatusOr<std::string> snapshot =
      upstream->ReadSnapshotFile(Parse("ns/enc/vm/101/2026-01-02T00:00:00Z"), "index.json.blob");
  EXPECT_TRUE(absl::IsNotFound(snapshot.status()));
  EXPECT_NE(MessageOf(snapshot.status()).find("ns/enc/vm/101/2026-01-02T00:00:00Z"),
            std::string::npos)
      << snapshot.status();

  const ChunkDigest absent = Sha256("absent");
  absl::StatusOr<std::string> chunk = upstream->ReadChunk(absent);
  EXPECT_TRUE(absl::IsNotFound(chunk.status()));
  EXPECT_NE(MessageOf(chunk.status()).find(ChunkRelativePath(absent)), std::string::npos)
      << chunk.status();
}

TEST(DatastoreUpstreamOpen, ReportsMissingAndNonDatastoreDirectories) {
  ScratchDir scratch;
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> missing =
      DatastoreUpstream::Open(scratch / "nothing-here");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();

  fs::create_directories(scratch / "plain-dir");
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> plain =
      DatastoreUpstream::Open(scratch / "plain-dir");
  EXPECT_TRUE(absl::IsFailedPrecondition(plain.status())) << plain.status();
  EXPECT_NE(MessageOf(plain.status()).find(".chunks"), std::string::npos);

  WriteFileBytes(scratch / "a-file", "x");
  EXPECT_FALSE(DatastoreUpstream::Open(scratch / "a-file").ok());
}

// A datastore in a scratch directory with one snapshot and one chunk, plus a directory
// "outside" next to it holding things a symlink could point at.
class DatastoreUpstreamLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = DatastoreWriter::Create(root_);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->WriteChunk(chunk_, "chunk-bytes").ok());
    ASSERT_TRUE((*writer)->WriteSnapshotFile(snapshot_, "index.json.blob", "manifest").ok());
    ASSERT_TRUE((*writer)->WriteSnapshotFile(snapshot_, "drive-scsi0.img.fidx", "index").ok());
    WriteFileBytes(outside_ / "secret.fidx", "SECRET");
    WriteFileBytes(outside_ / "vm/100/2026-01-01T00:00:00Z/index.json.blob", "SECRET");
    WriteFileBytes(outside_ / "vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx", "SECRET");
    WriteFileBytes(outside_ / chunk_.Hex(), "SECRET");
    upstream_ = OpenOrDie(root_);
    ASSERT_NE(upstream_, nullptr);
  }

  fs::path SnapshotDir() const { return root_ / snapshot_.RelativeDir(); }
  fs::path ChunkFile() const { return root_ / ChunkRelativePath(chunk_); }

  // Not OK, and certainly not the bytes outside.
  static void ExpectRefused(const absl::StatusOr<std::string>& result) {
    ASSERT_FALSE(result.ok()) << "read through a symlink returned: " << *result;
    EXPECT_TRUE(absl::IsPermissionDenied(result.status())) << result.status();
    EXPECT_EQ(MessageOf(result.status()).find("SECRET"), std::string::npos);
  }

  ScratchDir scratch_;
  fs::path root_ = scratch_ / "datastore";
  fs::path outside_ = scratch_ / "outside";
  SnapshotName snapshot_ = Parse("vm/100/2026-01-01T00:00:00Z");
  ChunkDigest chunk_ = Sha256("chunk");
  std::unique_ptr<DatastoreUpstream> upstream_;
};

TEST_F(DatastoreUpstreamLinks, SymlinkedSnapshotFileIsRefused) {
  fs::remove(SnapshotDir() / "drive-scsi0.img.fidx");
  fs::create_symlink(outside_ / "secret.fidx", SnapshotDir() / "drive-scsi0.img.fidx");
  ExpectRefused(upstream_->ReadSnapshotFile(snapshot_, "drive-scsi0.img.fidx"));
}

TEST_F(DatastoreUpstreamLinks, SymlinkedGroupDirectoryIsRefusedAndNotListed) {
  const SnapshotName linked = Parse("vm/101/2026-01-01T00:00:00Z");
  fs::create_symlink(outside_ / "vm/100", root_ / "vm/101");
  ExpectRefused(upstream_->ReadSnapshotFile(linked, "index.json.blob"));
  absl::StatusOr<std::vector<SnapshotName>> listed = upstream_->ListSnapshots();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, std::vector<SnapshotName>{snapshot_});
}

TEST_F(DatastoreUpstreamLinks, SymlinkedNamespaceIsRefusedAndNotListed) {
  fs::create_directories(root_ / "ns");
  fs::create_symlink(outside_, root_ / "ns/evil");
  ExpectRefused(upstream_->ReadSnapshotFile(Parse("ns/evil/vm/100/2026-01-01T00:00:00Z"),
                                            "drive-scsi0.img.fidx"));
  absl::StatusOr<std::vector<SnapshotName>> listed = upstream_->ListSnapshots();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, std::vector<SnapshotName>{snapshot_});
}

TEST_F(DatastoreUpstreamLinks, SymlinkedChunkFileIsRefused) {
  fs::remove(ChunkFile());
  fs::create_symlink(outside_ / chunk_.Hex(), ChunkFile());
  ExpectRefused(upstream_->ReadChunk(chunk_));
}

TEST_F(DatastoreUpstreamLinks, SymlinkedChunkPrefixDirectoryIsRefused) {
  fs::remove_all(ChunkFile().parent_path());
  fs::create_symlink(outside_, ChunkFile().parent_path());
  ExpectRefused(upstream_->ReadChunk(chunk_));
}

TEST_F(DatastoreUpstreamLinks, SymlinkedChunkStoreIsRefusedAtOpen) {
  upstream_.reset();
  fs::rename(root_ / ".chunks", outside_ / ".chunks");
  fs::create_symlink(outside_ / ".chunks", root_ / ".chunks");
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> opened = DatastoreUpstream::Open(root_);
  EXPECT_TRUE(absl::IsPermissionDenied(opened.status())) << opened.status();
}

TEST_F(DatastoreUpstreamLinks, ZeroByteChunkIsAMarkerNotData) {
  fs::resize_file(ChunkFile(), 0);
  absl::StatusOr<std::string> chunk = upstream_->ReadChunk(chunk_);
  EXPECT_TRUE(absl::IsNotFound(chunk.status())) << chunk.status();
  EXPECT_NE(MessageOf(chunk.status()).find("0-byte"), std::string::npos) << chunk.status();
}

TEST_F(DatastoreUpstreamLinks, OversizedChunkFileIsDataLoss) {
  fs::resize_file(ChunkFile(), kMaxChunkFileSize + 1);  // sparse: no real disk use
  absl::StatusOr<std::string> chunk = upstream_->ReadChunk(chunk_);
  EXPECT_TRUE(absl::IsDataLoss(chunk.status())) << chunk.status();
}

TEST_F(DatastoreUpstreamLinks, DirectoryOrFifoInPlaceOfAFileIsRefused) {
  fs::remove(ChunkFile());
  fs::create_directory(ChunkFile());
  EXPECT_TRUE(absl::IsFailedPrecondition(upstream_->ReadChunk(chunk_).status()));

  // A FIFO must neither hang the reader nor be read.
  fs::remove(SnapshotDir() / "drive-scsi0.img.fidx");
  ASSERT_EQ(::mkfifo((SnapshotDir() / "drive-scsi0.img.fidx").c_str(), 0644), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      upstream_->ReadSnapshotFile(snapshot_, "drive-scsi0.img.fidx").status()));
}

TEST_F(DatastoreUpstreamLinks, ListingSkipsUnfinishedAndOddEntries) {
  auto writer = DatastoreWriter::Create(root_);
  ASSERT_TRUE(writer.ok());
  const SnapshotName nested = Parse("ns/a/ns/b/ct/200/2026-01-02T03:04:05Z");
  ASSERT_TRUE((*writer)->WriteSnapshotFile(nested, "index.json.blob", "m").ok());
  // Unfinished: no manifest.
  ASSERT_TRUE((*writer)
                  ->WriteSnapshotFile(Parse("vm/100/2026-01-05T00:00:00Z"), "root.pxar.didx", "i")
                  .ok());
  WriteFileBytes(root_ / "vm/100/2026-01-01T00:00:00+00:00/index.json.blob", "not canonical");
  WriteFileBytes(root_ / "vm/100/notes", "notes");
  WriteFileBytes(root_ / "foo/1/2026-01-01T00:00:00Z/index.json.blob", "unknown type");
  WriteFileBytes(root_ / "vm/.hidden/2026-01-01T00:00:00Z/index.json.blob", "bad id");
  fs::create_directories(root_ / "vm/100/2026-01-06T00:00:00Z/index.json.blob");  // a dir

  absl::StatusOr<std::vector<SnapshotName>> listed = upstream_->ListSnapshots();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, (std::vector<SnapshotName>{snapshot_, nested}));
}

TEST_F(DatastoreUpstreamLinks, CheckReadableFailsWhenTheChunkStoreIsGone) {
  EXPECT_TRUE(upstream_->CheckReadable().ok());
  fs::rename(root_ / ".chunks", scratch_ / "moved-away");
  absl::Status status = upstream_->CheckReadable();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  fs::rename(scratch_ / "moved-away", root_ / ".chunks");
  EXPECT_TRUE(upstream_->CheckReadable().ok());
}

}  // namespace
}  // namespace chunkcache
