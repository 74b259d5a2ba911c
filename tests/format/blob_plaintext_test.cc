// BlobDecodeOptions::accept_verified_plaintext: a chunk of an encrypted archive that comes, from
// an upstream that sends verified plaintext, as an unencrypted, uncompressed blob, accepted only
// by its keyed digest SHA-256(plaintext ‖ id_key).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "format/blob.h"
#include "format/crypt_config.h"
#include "format/decode_error.h"
#include "format/digest.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::Message;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::VectorKey;
using ::testing::HasSubstr;

RawKey OtherKey() {
  RawKey key = VectorKey();
  key[0] ^= 0xff;
  return key;
}

class VerifiedPlaintextTest : public ::testing::Test {
 protected:
  // How the cache decodes a chunk of an encrypted archive read from a chunkcache upstream.
  BlobDecodeOptions Options() const {
    BlobDecodeOptions options;
    options.key = &key_;
    options.expected_digest = digest_;
    options.expected_size = data_.size();
    options.expected_mode = CryptMode::kEncrypt;
    options.accept_verified_plaintext = true;
    return options;
  }

  static std::string PlainBlob(std::string_view data) {
    return EncodeBlob(data, {.compress = false}).value();
  }

  void ExpectRefused(const std::string& blob, const BlobDecodeOptions& options,
                     DecodeErrorReason reason, std::string_view mentions) const {
    absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << decoded.status();
    EXPECT_EQ(GetDecodeErrorReason(decoded.status()), reason) << decoded.status();
    EXPECT_THAT(Message(decoded.status()), HasSubstr(mentions));
  }

  const CryptConfig key_ = CryptConfig::FromRawKey(VectorKey());
  const std::string data_ = PseudoRandomBytes(64 * 1024, 5);
  const ChunkDigest digest_ = key_.ChunkDigestOf(data_);
};

TEST_F(VerifiedPlaintextTest, AcceptsPlaintextWithTheKeyedDigest) {
  const std::string blob = PlainBlob(data_);
  ASSERT_EQ(PeekBlobKind(blob).value(), BlobKind::kPlain);
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, Options());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == data_);

  std::string out(data_.size(), '\0');
  absl::StatusOr<size_t> size = DecodeBlobInto(blob, Options(), absl::MakeSpan(out));
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, data_.size());
  EXPECT_TRUE(out == data_);
}

TEST_F(VerifiedPlaintextTest, RefusesPlaintextWithoutTheOption) {
  BlobDecodeOptions options = Options();
  options.accept_verified_plaintext = false;
  ExpectRefused(PlainBlob(data_), options, DecodeErrorReason::kFormat,
                "crypt mode don't match (the manifest says 'encrypt' but the blob is not "
                "encrypted)");
}

TEST_F(VerifiedPlaintextTest, RefusesPlaintextThatIsNotTheKeyedDigests) {
  std::string other = data_;
  other[other.size() / 2] ^= 1;
  ExpectRefused(PlainBlob(other), Options(), DecodeErrorReason::kDigest, "wrong digest");

  // The plaintext's plain SHA-256 does not stand in for the keyed digest.
  BlobDecodeOptions plain_digest = Options();
  plain_digest.expected_digest = Sha256(data_);
  ExpectRefused(PlainBlob(data_), plain_digest, DecodeErrorReason::kDigest, "wrong digest");

  // Nor does the digest under another key.
  const CryptConfig other_key = CryptConfig::FromRawKey(OtherKey());
  BlobDecodeOptions wrong_key = Options();
  wrong_key.key = &other_key;
  ExpectRefused(PlainBlob(data_), wrong_key, DecodeErrorReason::kDigest, "wrong digest");
}

TEST_F(VerifiedPlaintextTest, KeepsTheOtherChecks) {
  std::string bad_crc = PlainBlob(data_);
  bad_crc[bad_crc.size() / 2] ^= 1;
  ExpectRefused(bad_crc, Options(), DecodeErrorReason::kCrc, "CRC mismatch");

  BlobDecodeOptions longer = Options();
  longer.expected_size = data_.size() + 1;
  ExpectRefused(PlainBlob(data_), longer, DecodeErrorReason::kDigest, "wrong length");
}

TEST_F(VerifiedPlaintextTest, RefusesCompressedPlaintext) {
  const std::string zeros(64 * 1024, '\0');
  BlobDecodeOptions options = Options();
  options.expected_digest = key_.ChunkDigestOf(zeros);
  options.expected_size = zeros.size();
  const std::string blob = EncodeBlob(zeros, {.compress = true}).value();
  ASSERT_EQ(PeekBlobKind(blob).value(), BlobKind::kZstd);
  ExpectRefused(blob, options, DecodeErrorReason::kFormat, "crypt mode don't match");
}

TEST_F(VerifiedPlaintextTest, NeedsTheKeyAndTheDigest) {
  BlobDecodeOptions no_key = Options();
  no_key.key = nullptr;
  absl::StatusOr<std::string> decoded = DecodeBlob(PlainBlob(data_), no_key);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kFailedPrecondition) << decoded.status();
  EXPECT_EQ(GetDecodeErrorReason(decoded.status()), DecodeErrorReason::kDecrypt);
  EXPECT_THAT(Message(decoded.status()), HasSubstr("no key was given"));

  BlobDecodeOptions no_digest = Options();
  no_digest.expected_digest.reset();
  ExpectRefused(PlainBlob(data_), no_digest, DecodeErrorReason::kFormat,
                "without a digest to check it against");
}

TEST_F(VerifiedPlaintextTest, EncryptedBlobsDecodeAsBefore) {
  const std::string encrypted = EncodeBlob(data_, {.compress = false, .key = &key_}).value();
  absl::StatusOr<std::string> decoded = DecodeBlob(encrypted, Options());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == data_);

  // The option relaxes nothing for plain archives: an encrypted blob is still refused there.
  BlobDecodeOptions plain_archive = Options();
  plain_archive.expected_mode = CryptMode::kNone;
  ExpectRefused(encrypted, plain_archive, DecodeErrorReason::kFormat, "crypt mode don't match");
}

TEST_F(VerifiedPlaintextTest, PlainArchivesKeepThePlainDigest) {
  for (CryptMode mode : {CryptMode::kNone, CryptMode::kSignOnly}) {
    SCOPED_TRACE(CryptModeName(mode));
    BlobDecodeOptions options = Options();
    options.expected_mode = mode;
    options.key = nullptr;
    options.expected_digest = Sha256(data_);
    absl::StatusOr<std::string> decoded = DecodeBlob(PlainBlob(data_), options);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == data_);
    // A keyed digest does not name a chunk of a plain archive, even with the key at hand.
    options.key = &key_;
    options.expected_digest = digest_;
    ExpectRefused(PlainBlob(data_), options, DecodeErrorReason::kDigest, "wrong digest");
  }
}

}  // namespace
}  // namespace chunkcache
