// EncodeBlob/DecodeBlob round trips and hostile or broken blobs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "format/blob.h"
#include "format/crypt_config.h"
#include "format/decode_error.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::FixCrc;
using ::chunkcache::testing::HexToBytes;
using ::chunkcache::testing::Message;
using ::chunkcache::testing::PlainBlobWithCrc;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::VectorKey;
using ::chunkcache::testing::VectorPath;
using ::testing::HasSubstr;

// Text-like data that zstd shrinks a lot.
std::string TextLike(size_t size) {
  std::string out;
  for (int line = 0; out.size() < size; ++line) {
    out += "line " + std::to_string(line) + ": the quick brown fox jumps over the lazy dog\n";
  }
  out.resize(size);
  return out;
}

std::string ZstdFrame(std::string_view data, bool with_content_size) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_content_size ? 1 : 0);
  std::string frame(ZSTD_compressBound(data.size()), '\0');
  size_t size = with_content_size
                    ? ZSTD_compress2(cctx, frame.data(), frame.size(), data.data(), data.size())
                    : 0;
  if (!with_content_size) {
    // Streaming without a pledged size leaves the content size out, as PBS ≤ 3.2.7 did.
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    ZSTD_outBuffer out{frame.data(), frame.size(), 0};
    size_t remaining;
    do {
      remaining = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
    } while (remaining != 0 && !ZSTD_isError(remaining));
    size = out.pos;
  }
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(size));
  frame.resize(size);
  return frame;
}

struct Variant {
  const char* name;
  bool compress;
  bool encrypt;
  BlobKind compressible_kind;
};

class PbsBlobRoundTripTest : public ::testing::TestWithParam<Variant> {
 protected:
  CryptConfig key_ = CryptConfig::FromRawKey(VectorKey());
  const CryptConfig* key() const { return GetParam().encrypt ? &key_ : nullptr; }
};

TEST_P(PbsBlobRoundTripTest, CompressibleData) {
  const Variant& v = GetParam();
  std::string data = TextLike(1 << 20);
  absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = v.compress, .key = key()});
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(PeekBlobKind(*blob).value(), v.compressible_kind);
  if (v.compress) {
    EXPECT_LT(blob->size(), data.size() / 4);
  }

  BlobDecodeOptions options;
  options.key = key();
  options.expected_digest = ChunkDigestOf(data, key());
  options.expected_size = data.size();
  options.expected_mode = v.encrypt ? CryptMode::kEncrypt : CryptMode::kNone;
  absl::StatusOr<std::string> decoded = DecodeBlob(*blob, options);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, data);

  std::string arena(data.size(), '\0');
  absl::StatusOr<size_t> written = DecodeBlobInto(*blob, options, absl::MakeSpan(arena));
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(arena, data);
}

TEST_P(PbsBlobRoundTripTest, IncompressibleDataIsStoredRaw) {
  const Variant& v = GetParam();
  std::string data = PseudoRandomBytes(100000, 7);
  absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = v.compress, .key = key()});
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(PeekBlobKind(*blob).value(), v.encrypt ? BlobKind::kEncrypted : BlobKind::kPlain);
  EXPECT_EQ(blob->size(), data.size() + (v.encrypt ? 44 : 12));
  BlobDecodeOptions options;
  options.key = key();
  options.expected_digest = ChunkDigestOf(data, key());
  absl::StatusOr<std::string> decoded = DecodeBlob(*blob, options);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, data);
}

TEST_P(PbsBlobRoundTripTest, EmptyAndTinyData) {
  for (std::string data : {std::string(), std::string("x"), std::string(13, 'a')}) {
    absl::StatusOr<std::string> blob =
        EncodeBlob(data, {.compress = GetParam().compress, .key = key()});
    ASSERT_TRUE(blob.ok()) << blob.status();
    BlobDecodeOptions options;
    options.key = key();
    options.expected_digest = ChunkDigestOf(data, key());
    absl::StatusOr<std::string> decoded = DecodeBlob(*blob, options);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, data);
  }
}

INSTANTIATE_TEST_SUITE_P(PbsAllVariants, PbsBlobRoundTripTest,
                         ::testing::Values(Variant{"plain", false, false, BlobKind::kPlain},
                                           Variant{"zstd", true, false, BlobKind::kZstd},
                                           Variant{"encrypted", false, true, BlobKind::kEncrypted},
                                           Variant{"encrypted_zstd", true, true,
                                                   BlobKind::kEncryptedZstd}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PbsBlobEncode, EncryptionUsesAFreshIvEachTime) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  std::string data = TextLike(4096);
  std::string a = EncodeBlob(data, {.key = &key}).value();
  std::string b = EncodeBlob(data, {.key = &key}).value();
  EXPECT_NE(a.substr(12, 16), b.substr(12, 16));
  EXPECT_NE(a, b);
}

TEST(PbsBlobEncode, RefusesDataOverTheBlobFileLimit) {
  std::string data(kMaxBlobFileSize + 1, '\0');
  absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = false});
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(blob.status()), HasSubstr("the limit is 134217728 bytes"));
}

TEST(PbsBlobEncode, CompressedFrameCarriesContentSize) {
  std::string blob = EncodeBlob(TextLike(5000), {}).value();
  EXPECT_EQ(ZSTD_getFrameContentSize(blob.data() + 12, blob.size() - 12), 5000u);
}

TEST(PbsBlobDecode, EveryTruncationFailsCleanly) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  for (const char* file : {"blobs/plain-uncompressed.blob", "blobs/plain-compressed.blob",
                           "blobs/plain-compressed-legacy.blob", "blobs/enc-uncompressed.blob",
                           "blobs/enc-compressed.blob"}) {
    SCOPED_TRACE(file);
    std::string blob = ReadFileBytes(VectorPath(file));
    BlobDecodeOptions options;
    options.key = &key;
    for (size_t len = 0; len < blob.size(); ++len) {
      absl::StatusOr<std::string> decoded = DecodeBlob(blob.substr(0, len), options);
      ASSERT_FALSE(decoded.ok()) << "prefix of " << len << " bytes decoded";
      ASSERT_TRUE(GetDecodeErrorReason(decoded.status()).has_value()) << decoded.status();
      if (len < 12) {
        EXPECT_THAT(Message(decoded.status()), HasSubstr("blob too small"));
      }
    }
  }
}

TEST(PbsBlobDecode, TruncatedFrameWithFixedCrcIsDecompressError) {
  std::string blob = ReadFileBytes(VectorPath("blobs/plain-compressed-legacy.blob"));
  blob.resize(blob.size() - 10);
  FixCrc(blob, 12);
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecompress);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("blob: zstd"));
}

TEST(PbsBlobDecode, EncryptedBlobShorterThanItsHeader) {
  std::string blob = HexToBytes("7b6785be222d4cf0") + std::string(30, '\0');
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kFormat);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("encrypted blob too small (38 bytes"));
}

TEST(PbsBlobDecode, WrongMagicsAreFormatErrors) {
  std::string good = ReadFileBytes(VectorPath("blobs/plain-uncompressed.blob"));
  // Index magics, the catalog magic and random bytes are not blobs.
  for (std::string_view magic_hex : {"2f7f41ed91fd0fcd", "1c914ea519bab3cd", "91fd60f9c46758d5",
                                     "0000000000000000", "43ab3807be8370a1"}) {
    SCOPED_TRACE(magic_hex);
    std::string blob = HexToBytes(magic_hex) + good.substr(8);
    absl::StatusOr<BlobKind> kind = PeekBlobKind(blob);
    ASSERT_FALSE(kind.ok());
    EXPECT_EQ(kind.status().code(), absl::StatusCode::kDataLoss);
    absl::StatusOr<std::string> decoded = DecodeBlob(blob, {});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kFormat);
    EXPECT_THAT(Message(decoded.status()),
                HasSubstr(absl::StrCat("wrong magic ", std::string(magic_hex))));
  }
}

TEST(PbsBlobDecode, ZstdBombOverTheCapIsRefused) {
  // 17 MiB of zeros compress to a few hundred bytes; a chunk may decode to 16 MiB at most.
  std::string zeros(kMaxChunkSize + (1 << 20), '\0');
  for (bool with_content_size : {true, false}) {
    SCOPED_TRACE(with_content_size);
    std::string blob =
        PlainBlobWithCrc(testing::kZstdMagicHex, ZstdFrame(zeros, with_content_size));
    EXPECT_LT(blob.size(), 4096u);
    absl::StatusOr<std::string> decoded = DecodeBlob(blob, {});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecompress);
    EXPECT_THAT(Message(decoded.status()),
                HasSubstr("decompressed data exceeds the limit of 16777216 bytes"));

    // A blob file may be larger (128 MiB cap).
    BlobDecodeOptions file_options;
    file_options.max_decoded_size = kMaxBlobFileSize;
    absl::StatusOr<std::string> file = DecodeBlob(blob, file_options);
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ(file->size(), zeros.size());

    // Caller memory smaller than the data is never overrun.
    std::string arena(1 << 20, '\0');
    absl::StatusOr<size_t> written = DecodeBlobInto(blob, {}, absl::MakeSpan(arena));
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(GetDecodeErrorReason(written.status()), DecodeErrorReason::kDecompress);
    EXPECT_THAT(Message(written.status()), HasSubstr("exceeds the limit of 1048576 bytes"));
  }
}

TEST(PbsBlobDecode, OutputExactlyAtTheCapIsAccepted) {
  std::string data = TextLike(1 << 16);
  for (bool with_content_size : {true, false}) {
    std::string blob = PlainBlobWithCrc(testing::kZstdMagicHex, ZstdFrame(data, with_content_size));
    BlobDecodeOptions options;
    options.max_decoded_size = data.size();
    std::string arena(data.size(), '\0');
    absl::StatusOr<size_t> written = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(arena, data);
    options.max_decoded_size = data.size() - 1;
    EXPECT_FALSE(DecodeBlob(blob, options).ok());
  }
}

TEST(PbsBlobDecode, ExpectedSizeSmallerThanDataIsRefusedWithoutOverrun) {
  std::string data = TextLike(10000);
  std::string blob = EncodeBlob(data, {}).value();
  BlobDecodeOptions options;
  options.expected_size = 5000;
  std::string arena(5000, '\0');
  absl::StatusOr<size_t> written = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(GetDecodeErrorReason(written.status()), DecodeErrorReason::kDecompress);
  EXPECT_THAT(Message(written.status()), HasSubstr("larger than the 5000-byte output buffer"));

  std::string plain = EncodeBlob(data, {.compress = false}).value();
  written = DecodeBlobInto(plain, options, absl::MakeSpan(arena));
  EXPECT_EQ(GetDecodeErrorReason(written.status()), DecodeErrorReason::kDigest);
}

TEST(PbsBlobDecode, ConcatenatedAndSkippableFramesAreAccepted) {
  std::string a = TextLike(3000), b = "second frame";
  std::string skippable = HexToBytes("502a4d1805000000") + "hello";  // magic 0x184D2A50, 5 bytes
  std::string payload = ZstdFrame(a, true) + skippable + ZstdFrame(b, false);
  absl::StatusOr<std::string> decoded =
      DecodeBlob(PlainBlobWithCrc(testing::kZstdMagicHex, payload), {});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, a + b);
}

TEST(PbsBlobDecode, GarbageAfterTheFrameIsDecompressError) {
  std::string payload = ZstdFrame(TextLike(3000), true) + "garbage!";
  absl::StatusOr<std::string> decoded =
      DecodeBlob(PlainBlobWithCrc(testing::kZstdMagicHex, payload), {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecompress);
}

TEST(PbsBlobDecode, LyingContentSizeIsDecompressError) {
  std::string data = TextLike(3000);
  std::string frame = ZstdFrame(data, true);
  // Frame header: magic(4) FHD(1) [window byte] FCS. Level-1 frames of this size are
  // single-segment with a 2-byte FCS (value - 256); declare 100 bytes more.
  ASSERT_EQ(static_cast<uint8_t>(frame[4]) & 0xe0, 0x60);
  uint16_t fcs =
      static_cast<uint16_t>(static_cast<uint8_t>(frame[5]) | static_cast<uint8_t>(frame[6]) << 8);
  fcs = static_cast<uint16_t>(fcs + 100);
  frame[5] = static_cast<char>(fcs & 0xff);
  frame[6] = static_cast<char>(fcs >> 8);
  absl::StatusOr<std::string> decoded =
      DecodeBlob(PlainBlobWithCrc(testing::kZstdMagicHex, frame), {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecompress);
}

TEST(PbsBlobDecode, EmptyZstdPayloadIsDecompressError) {
  absl::StatusOr<std::string> decoded =
      DecodeBlob(PlainBlobWithCrc(testing::kZstdMagicHex, ""), {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecompress);
}

TEST(PbsBlobDecode, LabelNamesTheBlobInMessages) {
  std::string blob = ReadFileBytes(VectorPath("blobs/negative/bad-crc.blob"));
  BlobDecodeOptions options;
  options.label = "qemu-server.conf.blob";
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("qemu-server.conf.blob: CRC mismatch"));
  EXPECT_THAT(Message(DecodeBlob(blob, {}).status()), HasSubstr("blob: CRC mismatch"));
}

TEST(PbsCryptModeNames, RoundTrip) {
  for (CryptMode mode : {CryptMode::kNone, CryptMode::kEncrypt, CryptMode::kSignOnly}) {
    EXPECT_EQ(ParseCryptMode(CryptModeName(mode)).value(), mode);
  }
  absl::StatusOr<CryptMode> bad = ParseCryptMode("Encrypt");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad.status()), HasSubstr("unknown crypt mode 'Encrypt'"));
}

TEST(PbsDecodeErrorReasons, NamesAndPayload) {
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kDecompress), "decompress");
  absl::Status status = DecodeError(DecodeErrorReason::kDigest, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetDecodeErrorReason(status), DecodeErrorReason::kDigest);
  EXPECT_FALSE(GetDecodeErrorReason(absl::DataLossError("x")).has_value());
}

}  // namespace
}  // namespace chunkcache
