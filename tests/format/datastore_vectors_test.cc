// The datastore vectors end to end: every chunk file decodes to its name, and each snapshot's
// archive, read through its manifest and index, has the README's SHA-256.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/decode_error.h"
#include "format/manifest.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::Message;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::VectorKey;
using ::chunkcache::testing::VectorPath;
using ::testing::HasSubstr;

std::filesystem::path ChunkPath(const ChunkDigest& digest) {
  std::string hex = digest.Hex();
  return VectorPath("datastore/.chunks") / hex.substr(0, 4) / hex;
}

class StreamingSha256 {
 public:
  StreamingSha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  std::string FinalHex() {
    unsigned char out[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &len);
    return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(out), len));
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// Reads a whole archive the way a reader does: manifest → index check → chunks with every
// check on; returns the SHA-256 of the logical bytes.
std::string ReadArchiveSha256(const std::string& snapshot_dir, const std::string& archive,
                              const CryptConfig* key) {
  absl::StatusOr<Manifest> manifest =
      Manifest::FromBlob(ReadFileBytes(VectorPath(snapshot_dir + "index.json.blob")));
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  if (!manifest.ok()) return "";
  EXPECT_TRUE(manifest->VerifyKey(key).ok());
  absl::StatusOr<ChunkIndex> index =
      ChunkIndex::Parse(ReadFileBytes(VectorPath(snapshot_dir + archive)));
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return "";
  EXPECT_TRUE(manifest->CheckIndex(archive, *index).ok());
  const ManifestFile* file = manifest->FindFile(archive);

  StreamingSha256 sha;
  // Chunks repeat (zero chunk, pxar middle chunk): decode each distinct one once.
  ChunkDigest last_digest;
  std::string last_chunk;
  std::string arena(kMaxChunkSize, '\0');
  for (size_t i = 0; i < index->chunk_count(); ++i) {
    const ChunkDigest& digest = index->digest(i);
    if (i == 0 || digest != last_digest) {
      BlobDecodeOptions options;
      options.key = key;
      options.expected_digest = digest;
      options.expected_size = index->range(i).size();
      options.expected_mode = file->crypt_mode;
      absl::StatusOr<size_t> size =
          DecodeBlobInto(ReadFileBytes(ChunkPath(digest)), options, absl::MakeSpan(arena));
      EXPECT_TRUE(size.ok()) << size.status();
      if (!size.ok()) return "";
      last_chunk.assign(arena.data(), *size);
      last_digest = digest;
    }
    sha.Update(last_chunk);
  }
  return sha.FinalHex();
}

TEST(PbsDatastoreVectors, EveryChunkFileDecodesToItsName) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  size_t chunks = 0;
  for (const auto& prefix : std::filesystem::directory_iterator(VectorPath("datastore/.chunks"))) {
    for (const auto& entry : std::filesystem::directory_iterator(prefix.path())) {
      std::string name = entry.path().filename().string();
      SCOPED_TRACE(name);
      EXPECT_EQ(name.substr(0, 4), prefix.path().filename().string());
      absl::StatusOr<ChunkDigest> digest = ChunkDigest::FromHex(name);
      ASSERT_TRUE(digest.ok()) << digest.status();
      BlobDecodeOptions options;
      options.key = &key;
      options.expected_digest = *digest;
      absl::StatusOr<std::string> decoded = DecodeBlob(ReadFileBytes(entry.path()), options);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_GT(decoded->size(), 0u);
      ++chunks;
    }
  }
  EXPECT_EQ(chunks, 11u);
}

TEST(PbsDatastoreVectors, PlainImageReadsToTheImageHash) {
  EXPECT_EQ(
      ReadArchiveSha256("datastore/vm/100/2026-01-01T00:00:00Z/", "drive-scsi0.img.fidx", nullptr),
      "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061");
}

TEST(PbsDatastoreVectors, EncryptedImageReadsToTheSameHashWithK) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  EXPECT_EQ(ReadArchiveSha256("datastore/ns/enc/vm/100/2026-01-02T00:00:00Z/",
                              "drive-scsi0.img.fidx", &key),
            "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061");
}

TEST(PbsDatastoreVectors, DynamicArchiveStreamsToTheReadmeHash) {
  EXPECT_EQ(ReadArchiveSha256("datastore/host/pxar-payload/2024-05-07T14:25:51Z/",
                              "backup-client-pxar-data.ppxar.didx", nullptr),
            "6eb275c1ef20d662d518a46b1c8a309fa83d72fafd1ef8ddcaabadfa415bf84a");
}

TEST(PbsDatastoreVectors, EncryptedChunksReadAsPlainArchiveFailCryptModeCheck) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(ReadFileBytes(
      VectorPath("datastore/ns/enc/vm/100/2026-01-02T00:00:00Z/drive-scsi0.img.fidx")));
  ASSERT_TRUE(index.ok());
  for (size_t i = 0; i < index->chunk_count(); ++i) {
    BlobDecodeOptions options;
    options.key = &key;  // even with the key at hand
    options.expected_digest = index->digest(i);
    options.expected_size = index->range(i).size();
    options.expected_mode = CryptMode::kNone;
    absl::StatusOr<std::string> decoded =
        DecodeBlob(ReadFileBytes(ChunkPath(index->digest(i))), options);
    ASSERT_FALSE(decoded.ok()) << i;
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kFormat);
    EXPECT_THAT(Message(decoded.status()), HasSubstr("crypt mode don't match"));
  }
}

TEST(PbsDatastoreVectors, EncryptedSnapshotWithoutKeyIsRefused) {
  absl::StatusOr<Manifest> manifest = Manifest::FromBlob(
      ReadFileBytes(VectorPath("datastore/ns/enc/vm/100/2026-01-02T00:00:00Z/index.json.blob")));
  ASSERT_TRUE(manifest.ok());
  EXPECT_TRUE(manifest->NeedsKey());
  EXPECT_EQ(manifest->VerifyKey(nullptr).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PbsDatastoreVectors, ChunkBlobSizesMatchTheReadme) {
  EXPECT_EQ(
      std::filesystem::file_size(ChunkPath(
          ChunkDigest::FromHex("bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8")
              .value())),
      159u);
  EXPECT_EQ(
      std::filesystem::file_size(ChunkPath(
          ChunkDigest::FromHex("348571e12bbbedb529def1f1394316e338a01945d871df9ef792617ceb13d636")
              .value())),
      191u);
}

}  // namespace
}  // namespace chunkcache
