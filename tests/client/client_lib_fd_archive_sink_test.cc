#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "client/cli/sha256_sink.h"
#include "client/lib/fd_archive_sink.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

constexpr size_t kBlock = FdArchiveSink::kSparseBlockBytes;

class FdArchiveSinkTest : public ::testing::Test {
 protected:
  int Open(const std::string& name, int extra_flags = 0) {
    fd_ = ::open((dir_ / name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | extra_flags, 0644);
    EXPECT_GE(fd_, 0);
    return fd_;
  }
  ~FdArchiveSinkTest() override {
    if (fd_ >= 0) ::close(fd_);
  }

  testing::ScratchDir dir_;
  int fd_ = -1;
};

// Writes `bytes` through the sink in pieces of `piece` bytes.
void WriteInPieces(FdArchiveSink& sink, const std::string& bytes, size_t piece) {
  ASSERT_TRUE(sink.Begin(bytes.size()).ok());
  for (size_t at = 0; at < bytes.size(); at += piece) {
    ASSERT_TRUE(sink.Append(std::string_view(bytes).substr(at, piece)).ok());
  }
  ASSERT_TRUE(sink.Finish().ok());
}

TEST(IsAllZero, DetectsAnyNonZeroByte) {
  EXPECT_TRUE(IsAllZero(""));
  EXPECT_TRUE(IsAllZero(std::string(5000, '\0')));
  std::string bytes(5000, '\0');
  bytes[4999] = 1;
  EXPECT_FALSE(IsAllZero(bytes));
  bytes[4999] = 0;
  bytes[0] = 1;
  EXPECT_FALSE(IsAllZero(bytes));
}

TEST_F(FdArchiveSinkTest, ZeroBlocksOfARegularFileBecomeHoles) {
  // data | 1 MiB of zeros | data | trailing zeros: the file must read back identically but
  // hold only the data blocks.
  const std::string data = testing::PseudoRandomBytes(3 * kBlock, 1);
  const std::string archive =
      data + std::string(256 * kBlock, '\0') + data + std::string(64 * kBlock, '\0');
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink =
      FdArchiveSink::Create(Open("sparse.raw"), "sparse.raw");
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ((*sink)->kind(), FdArchiveSink::Kind::kRegularFile);
  // Pieces that are not block multiples, so zero runs straddle Append calls.
  WriteInPieces(**sink, archive, 10000);

  EXPECT_EQ(testing::ReadFileBytes(dir_ / "sparse.raw"), archive);
  EXPECT_EQ((*sink)->position(), archive.size());
  EXPECT_EQ((*sink)->bytes_written() + (*sink)->bytes_skipped(), archive.size());
  EXPECT_GE((*sink)->bytes_skipped(), 318 * kBlock);
  struct stat info {};
  ASSERT_EQ(::stat((dir_ / "sparse.raw").c_str(), &info), 0);
  EXPECT_EQ(static_cast<uint64_t>(info.st_size), archive.size());
  // st_blocks counts 512-byte units actually allocated: far below the 1.3 MiB logical size.
  EXPECT_LT(static_cast<uint64_t>(info.st_blocks) * 512, 64 * kBlock);
}

TEST_F(FdArchiveSinkTest, OldContentsOfAnExistingFileDoNotShowThroughHoles) {
  testing::WriteFileBytes(dir_ / "old.raw", std::string(8 * kBlock, 'x'));
  const std::string archive = std::string(2 * kBlock, '\0') + "tail";
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink =
      FdArchiveSink::Create(Open("old.raw"), "old.raw");
  ASSERT_TRUE(sink.ok()) << sink.status();
  WriteInPieces(**sink, archive, 3000);
  EXPECT_EQ(testing::ReadFileBytes(dir_ / "old.raw"), archive);
}

TEST_F(FdArchiveSinkTest, AllZeroArchiveIsOneHoleOfTheRightSize) {
  const std::string archive(100 * kBlock + 7, '\0');
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink =
      FdArchiveSink::Create(Open("zeros.raw"), "zeros.raw");
  ASSERT_TRUE(sink.ok());
  WriteInPieces(**sink, archive, 65536);
  EXPECT_EQ((*sink)->bytes_written(), 0u);
  EXPECT_EQ(testing::ReadFileBytes(dir_ / "zeros.raw"), archive);
}

TEST_F(FdArchiveSinkTest, AppendModeAndSequentialWriteEveryByte) {
  const std::string archive = std::string(4 * kBlock, '\0') + "x";
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> appending =
      FdArchiveSink::Create(Open("append.raw", O_APPEND), "append.raw");
  ASSERT_TRUE(appending.ok());
  EXPECT_EQ((*appending)->kind(), FdArchiveSink::Kind::kStream);
  WriteInPieces(**appending, archive, 1000);
  EXPECT_EQ((*appending)->bytes_written(), archive.size());
  EXPECT_EQ(testing::ReadFileBytes(dir_ / "append.raw"), archive);
}

TEST(FdArchiveSinkPipe, WritesSequentiallyToAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink = FdArchiveSink::Create(fds[1], "pipe");
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ((*sink)->kind(), FdArchiveSink::Kind::kStream);
  const std::string archive = std::string(kBlock, '\0') + "abc";
  WriteInPieces(**sink, archive, 100);
  ::close(fds[1]);
  std::string read_back(archive.size() + 10, '?');
  size_t total = 0;
  for (ssize_t n; (n = ::read(fds[0], read_back.data() + total, read_back.size() - total)) > 0;) {
    total += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  read_back.resize(total);
  EXPECT_EQ(read_back, archive);
}

TEST(FdArchiveSinkErrors, ClosedDescriptorIsAnErrorNotACrash) {
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink = FdArchiveSink::Create(-1, "nothing");
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(sink.status().message().find("nothing"), absl::string_view::npos);
}

TEST(FdArchiveSinkErrors, WriteFailureNamesTheOutput) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);             // nobody reads: the write fails with EPIPE
  ::signal(SIGPIPE, SIG_IGN);  // instead of killing the test process
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> sink = FdArchiveSink::Create(fds[1], "reader");
  ASSERT_TRUE(sink.ok());
  absl::Status status = (*sink)->Append("bytes");
  ::close(fds[1]);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("reader"), absl::string_view::npos);
}

TEST(Sha256Sink, HashesWhatPassesThroughAndForwardsIt) {
  struct CollectingSink : ArchiveSink {
    absl::Status Append(std::string_view bytes) override {
      collected.append(bytes);
      return absl::OkStatus();
    }
    absl::Status Finish() override {
      finished = true;
      return absl::OkStatus();
    }
    std::string collected;
    bool finished = false;
  } inner;
  Sha256Sink hashing(inner);
  ASSERT_TRUE(hashing.Begin(3).ok());
  ASSERT_TRUE(hashing.Append("a").ok());
  ASSERT_TRUE(hashing.Append("bc").ok());
  ASSERT_TRUE(hashing.Finish().ok());
  EXPECT_EQ(inner.collected, "abc");
  EXPECT_TRUE(inner.finished);
  // FIPS 180-2 test vector.
  EXPECT_EQ(hashing.HexDigest(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Hasher, EmptyInput) {
  Sha256Hasher hasher;
  EXPECT_EQ(hasher.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace chunkcache
