// End to end over the shared vectors datastore (spec/vectors/datastore) through
// DatastoreUpstream: plain, encrypted (key K = 00 01 ... 1f) and dynamic-index archives.
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "cache/snapshot_session.h"
#include "format/decode_error.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/datastore_upstream.h"
#include "upstream/key_source.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::VectorPath;

constexpr char kDisk[] = "drive-scsi0.img.fidx";
constexpr char kImageSha256[] = "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061";
constexpr char kPxarSha256[] = "6eb275c1ef20d662d518a46b1c8a309fa83d72fafd1ef8ddcaabadfa415bf84a";
constexpr char kZeroChunk[] = "bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8";

// SHA-256 of a whole archive, read through the session in pieces of `piece` bytes.
absl::StatusOr<std::string> HashArchive(SnapshotSession& session, uint64_t piece) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  uint64_t offset = 0;
  bool eof = false;
  while (!eof) {
    absl::StatusOr<RangeRead> read = session.Read(offset, piece, absl::Now() + absl::Seconds(60));
    if (!read.ok()) {
      EVP_MD_CTX_free(ctx);
      return read.status();
    }
    for (const ChunkSlice& slice : read->slices) {
      EVP_DigestUpdate(ctx, slice.data().data(), slice.data().size());
    }
    offset += read->length();
    eof = read->eof;
  }
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

class DatastoreSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DatastoreUpstream>> store =
        DatastoreUpstream::Open(VectorPath("datastore"));
    ASSERT_TRUE(store.ok()) << store.status();
    upstream_ = std::shared_ptr<Upstream>(*std::move(store));
    absl::StatusOr<CryptConfig> key =
        LoadCryptConfig(VectorPath("keys/key-none.json"), PasswordSource{});
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::make_shared<const CryptConfig>(*key);
    cache_ = OpenCache(SmallCacheOptions(dir_.path(), 64 << 20));
  }
  static SnapshotName Snap(std::string_view text) { return *SnapshotName::Parse(text); }

  ScratchDir dir_;
  std::shared_ptr<Upstream> upstream_;
  std::shared_ptr<const CryptConfig> key_;
  std::unique_ptr<ChunkCache> cache_;
};

TEST_F(DatastoreSessionTest, PlainImageReadsBackExactlyAndPinsTheZeroChunk) {
  SessionRegistry registry(cache_.get(), SessionOptions{});
  auto session =
      registry.Open({"vectors", upstream_, nullptr}, Snap("vm/100/2026-01-01T00:00:00Z"), kDisk);
  ASSERT_TRUE(session.ok()) << session.status();
  SnapshotStats stats = (*session)->Stats();
  EXPECT_EQ(stats.size, 16782216u);
  EXPECT_EQ(stats.chunk_size, 4194304u);
  EXPECT_EQ(stats.chunk_count, 5u);
  EXPECT_EQ(stats.distinct_chunks, 4u);
  EXPECT_EQ(stats.crypt_mode, "none");
  EXPECT_EQ(stats.index_csum, "41f1ecbf7bbab699a3e3f20b728dbf8ce0105cfb8f27892a773dced1fd210f59");
  EXPECT_EQ(stats.hinted_chunks, 1u);  // the zero chunk, referenced twice
  ASSERT_TRUE(testing::WaitFor([&] { return (*session)->hinted_chunks_pinned() == 1; }));
  EXPECT_TRUE(cache_->Contains(*ChunkDigest::FromHex(kZeroChunk)));

  absl::StatusOr<std::string> sha = HashArchive(**session, 3 << 20);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, kImageSha256);
  EXPECT_EQ((*session)->Stats().cached_bytes, 3 * 4194304u + 5000u);  // 4 distinct chunks
  EXPECT_GE(cache_->Stats().lookups.hinted_hit, 2u);
}

TEST_F(DatastoreSessionTest, EncryptedImageNeedsTheKeyAndReadsTheSameBytes) {
  const SnapshotName snapshot = Snap("ns/enc/vm/100/2026-01-02T00:00:00Z");
  auto refused =
      SnapshotSession::Open(cache_.get(), {"vectors", upstream_, nullptr}, snapshot, kDisk, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();

  auto session =
      SnapshotSession::Open(cache_.get(), {"vectors", upstream_, key_}, snapshot, kDisk, {});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Stats().crypt_mode, "encrypt");
  absl::StatusOr<std::string> sha = HashArchive(**session, 4 << 20);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, kImageSha256);
}

TEST_F(DatastoreSessionTest, EncryptedChunkRequestedAsPlainFailsTheCryptModeCheck) {
  const ChunkDigest encrypted_zero =
      *ChunkDigest::FromHex("348571e12bbbedb529def1f1394316e338a01945d871df9ef792617ceb13d636");
  auto plain_source = testing::MakeSource(upstream_, "vectors");
  absl::StatusOr<ChunkHandle> chunk = cache_->Get(
      MakeChunkRequest(plain_source, encrypted_zero, 4194304), absl::Now() + absl::Seconds(30));
  EXPECT_EQ(chunk.status().code(), absl::StatusCode::kDataLoss) << chunk.status();
  EXPECT_EQ(GetDecodeErrorReason(chunk.status()), DecodeErrorReason::kFormat);
  EXPECT_FALSE(cache_->Contains(encrypted_zero));
}

TEST_F(DatastoreSessionTest, DynamicArchiveStreamsBackExactly) {
  auto session = SnapshotSession::Open(cache_.get(), {"vectors", upstream_, nullptr},
                                       Snap("host/pxar-payload/2024-05-07T14:25:51Z"),
                                       "backup-client-pxar-data.ppxar.didx", SessionOptions{});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Stats().size, 104859232u);
  EXPECT_EQ((*session)->Stats().distinct_chunks, 3u);
  absl::StatusOr<RangeRead> last = (*session)->Read(104859231, 10, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->CopyBytes(), std::string(1, '\0'));
  EXPECT_TRUE(last->eof);
  absl::StatusOr<std::string> sha = HashArchive(**session, 8 << 20);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, kPxarSha256);
  EXPECT_EQ(cache_->Stats().fetches[0].ok, 3u);  // 100 entries, three distinct chunks
}

}  // namespace
}  // namespace chunkcache
