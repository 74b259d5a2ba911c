// The blobs of shared/spec/vectors/blobs decode exactly as the vectors' README says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "format/blob.h"
#include "format/crypt_config.h"
#include "format/decode_error.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::DigestFromHex;
using ::chunkcache::testing::Message;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::VectorKey;
using ::chunkcache::testing::VectorPath;
using ::testing::HasSubstr;

constexpr char kTextDigest[] = "d668b18064e69d24bccbb7820b4836f1480739fa56877626b056816488c2b71c";
constexpr char kNoiseDigest[] = "c99ebd6d53dce9c8c82e78b44698b4d4bd32011e6913abfa1583f09a91bc18f4";
constexpr char kTextEncryptedDigest[] =
    "3a74039e5b088989063a3678e13f8e7565e7f0f14c032ab828c97befd04b06c1";
constexpr char kNoiseEncryptedDigest[] =
    "234a264306a99df41343a54560d6732761ada0cff9de4a8520ea442bfa341827";

struct BlobVector {
  friend void PrintTo(const BlobVector& v, std::ostream* os) { *os << v.file; }

  std::string file;
  BlobKind kind;
  size_t size;
  std::string plaintext_file;
  std::string_view digest_hex;
  bool encrypted;
};

class PbsBlobVectorTest : public ::testing::TestWithParam<BlobVector> {
 protected:
  CryptConfig key_ = CryptConfig::FromRawKey(VectorKey());
};

TEST_P(PbsBlobVectorTest, DecodesToPlaintextWithDigest) {
  const BlobVector& v = GetParam();
  std::string blob = ReadFileBytes(VectorPath("blobs/" + v.file));
  std::string expected = ReadFileBytes(VectorPath("blobs/" + v.plaintext_file));
  ASSERT_EQ(blob.size(), v.size);

  absl::StatusOr<BlobKind> kind = PeekBlobKind(blob);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, v.kind);

  BlobDecodeOptions options;
  options.key = &key_;
  options.expected_digest = DigestFromHex(v.digest_hex);
  options.expected_size = expected.size();
  options.expected_mode = v.encrypted ? CryptMode::kEncrypt : CryptMode::kNone;
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, expected);

  // The same into caller memory of exactly the expected size.
  std::string arena(expected.size(), 'x');
  absl::StatusOr<size_t> written = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, expected.size());
  EXPECT_EQ(arena, expected);

  EXPECT_EQ(ChunkDigestOf(expected, v.encrypted ? &key_ : nullptr).Hex(), v.digest_hex);
}

INSTANTIATE_TEST_SUITE_P(
    PbsVectors, PbsBlobVectorTest,
    ::testing::Values(BlobVector{"plain-uncompressed.blob", BlobKind::kPlain, 2212, "text.bin",
                                 kTextDigest, false},
                      BlobVector{"plain-compressed.blob", BlobKind::kZstd, 188, "text.bin",
                                 kTextDigest, false},
                      BlobVector{"plain-compressed-legacy.blob", BlobKind::kZstd, 188, "text.bin",
                                 kTextDigest, false},
                      BlobVector{"plain-incompressible.blob", BlobKind::kPlain, 1036, "noise.bin",
                                 kNoiseDigest, false},
                      BlobVector{"enc-uncompressed.blob", BlobKind::kEncrypted, 2244, "text.bin",
                                 kTextEncryptedDigest, true},
                      BlobVector{"enc-compressed.blob", BlobKind::kEncryptedZstd, 220, "text.bin",
                                 kTextEncryptedDigest, true},
                      BlobVector{"enc-incompressible.blob", BlobKind::kEncrypted, 1068, "noise.bin",
                                 kNoiseEncryptedDigest, true}),
    [](const ::testing::TestParamInfo<BlobVector>& info) {
      std::string name = info.param.file.substr(0, info.param.file.find('.'));
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(PbsBlobVectorNegative, EncryptedBlobWithoutKeyIsMissingKeyError) {
  for (const char* file : {"blobs/enc-uncompressed.blob", "blobs/enc-compressed.blob",
                           "blobs/enc-incompressible.blob"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<std::string> decoded = DecodeBlob(ReadFileBytes(VectorPath(file)), {});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecrypt);
    EXPECT_THAT(Message(decoded.status()), HasSubstr("blob is encrypted but no key was given"));
  }
}

TEST(PbsBlobVectorPlaintext, PlaintextsHaveTheReadmeDigests) {
  EXPECT_EQ(Sha256(ReadFileBytes(VectorPath("blobs/text.bin"))).Hex(), kTextDigest);
  EXPECT_EQ(Sha256(ReadFileBytes(VectorPath("blobs/noise.bin"))).Hex(), kNoiseDigest);
}

TEST(PbsBlobVectorLegacy, LegacyFrameHasNoContentSize) {
  // Frame header descriptor byte right after the zstd magic: bit 7-6 = FCS field size flag;
  // 0 with single-segment unset means "no content size" (PBS ≤ 3.2.7 streaming frames).
  std::string legacy = ReadFileBytes(VectorPath("blobs/plain-compressed-legacy.blob"));
  std::string modern = ReadFileBytes(VectorPath("blobs/plain-compressed.blob"));
  ASSERT_GT(legacy.size(), 16u);
  EXPECT_EQ(static_cast<uint8_t>(legacy[16]) & 0xe0, 0);
  EXPECT_NE(static_cast<uint8_t>(modern[16]) & 0xe0, 0);
}

TEST(PbsBlobVectorClaimedSize, HeadersClaimThePlaintextLengthWhereTheyCan) {
  const size_t text = ReadFileBytes(VectorPath("blobs/text.bin")).size();
  const size_t noise = ReadFileBytes(VectorPath("blobs/noise.bin")).size();
  auto claimed = [](const char* file) {
    return ClaimedDecodedSize(ReadFileBytes(VectorPath(std::string("blobs/") + file)));
  };
  EXPECT_EQ(claimed("plain-uncompressed.blob"), text);
  EXPECT_EQ(claimed("plain-compressed.blob"), text);  // the frame's content size
  EXPECT_EQ(claimed("plain-incompressible.blob"), noise);
  EXPECT_EQ(claimed("enc-uncompressed.blob"), text);  // GCM: ciphertext as long as plaintext
  EXPECT_EQ(claimed("enc-incompressible.blob"), noise);
  EXPECT_EQ(claimed("enc-compressed.blob"), std::nullopt);  // inside the ciphertext
  EXPECT_EQ(claimed("plain-compressed-legacy.blob"), std::nullopt);  // no content size
  EXPECT_EQ(ClaimedDecodedSize("short"), std::nullopt);
  EXPECT_EQ(ClaimedDecodedSize(std::string(64, 'x')), std::nullopt);  // no magic
}

TEST(PbsBlobVectorNegative, BadCrcIsCrcError) {
  std::string blob = ReadFileBytes(VectorPath("blobs/negative/bad-crc.blob"));
  BlobDecodeOptions options;
  options.expected_digest = DigestFromHex(kTextDigest);
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kCrc);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("chunk d668b180…: CRC mismatch (stored 0x"));
  EXPECT_THAT(Message(decoded.status()), HasSubstr(", computed 0x"));
}

TEST(PbsBlobVectorNegative, BadTagIsDecryptError) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  for (const char* file :
       {"blobs/negative/enc-bad-tag.blob", "blobs/negative/enc-bad-ciphertext-good-crc.blob"}) {
    SCOPED_TRACE(file);
    std::string blob = ReadFileBytes(VectorPath(file));
    BlobDecodeOptions options;
    options.key = &key;
    options.expected_digest = DigestFromHex(kTextEncryptedDigest);
    absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecrypt);
    EXPECT_THAT(Message(decoded.status()), HasSubstr("AES-GCM authentication failed"));

    std::string arena(4096, '\0');
    absl::StatusOr<size_t> written = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
    EXPECT_EQ(GetDecodeErrorReason(written.status()), DecodeErrorReason::kDecrypt);
  }
}

TEST(PbsBlobVectorNegative, WrongKeyIsDecryptError) {
  RawKey other = VectorKey();
  other[0] ^= 1;
  CryptConfig key = CryptConfig::FromRawKey(other);
  BlobDecodeOptions options;
  options.key = &key;
  absl::StatusOr<std::string> decoded =
      DecodeBlob(ReadFileBytes(VectorPath("blobs/enc-compressed.blob")), options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecrypt);
}

TEST(PbsBlobVectorNegative, DigestMismatchIsDigestError) {
  BlobDecodeOptions options;
  options.expected_digest = DigestFromHex(kNoiseDigest);
  absl::StatusOr<std::string> decoded =
      DecodeBlob(ReadFileBytes(VectorPath("blobs/plain-uncompressed.blob")), options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDigest);
  EXPECT_THAT(Message(decoded.status()),
              HasSubstr(absl::StrCat("chunk c99ebd6d…: wrong digest (expected ", kNoiseDigest,
                                     ", computed ", kTextDigest, ")")));
}

TEST(PbsBlobVectorNegative, EncryptedDigestNeedsIdKeyNotPlainSha) {
  // An encrypted chunk named by the plain SHA-256 of its content must not verify.
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  BlobDecodeOptions options;
  options.key = &key;
  options.expected_digest = DigestFromHex(kTextDigest);
  absl::StatusOr<std::string> decoded =
      DecodeBlob(ReadFileBytes(VectorPath("blobs/enc-uncompressed.blob")), options);
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDigest);
}

TEST(PbsBlobVectorNegative, WrongLengthIsDigestError) {
  BlobDecodeOptions options;
  options.expected_digest = DigestFromHex(kTextDigest);
  options.expected_size = 2199;
  std::string arena(4096, '\0');
  for (const char* file : {"blobs/plain-uncompressed.blob", "blobs/plain-compressed.blob"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<size_t> written =
        DecodeBlobInto(ReadFileBytes(VectorPath(file)), options, absl::MakeSpan(arena));
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(GetDecodeErrorReason(written.status()), DecodeErrorReason::kDigest);
    EXPECT_THAT(Message(written.status()),
                HasSubstr("wrong length (decoded 2200 bytes, the index says 2199)"));
  }
}

TEST(PbsBlobVectorNegative, CryptModeMismatchIsFormatError) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  BlobDecodeOptions options;
  options.key = &key;

  options.expected_mode = CryptMode::kNone;
  absl::StatusOr<std::string> decoded =
      DecodeBlob(ReadFileBytes(VectorPath("blobs/enc-compressed.blob")), options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kFormat);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("crypt mode don't match"));

  options.expected_mode = CryptMode::kEncrypt;
  decoded = DecodeBlob(ReadFileBytes(VectorPath("blobs/plain-compressed.blob")), options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kFormat);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("'encrypt' but the blob is not encrypted"));

  options.expected_mode = CryptMode::kSignOnly;
  decoded = DecodeBlob(ReadFileBytes(VectorPath("blobs/plain-compressed.blob")), options);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
}

}  // namespace
}  // namespace chunkcache
