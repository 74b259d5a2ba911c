// CryptConfig derivations (spec §5.3) and key files (spec §5.1–5.2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "format/crypt_config.h"
#include "format/key_file.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::Message;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::VectorKey;
using ::chunkcache::testing::VectorPath;
using ::testing::HasSubstr;

constexpr char kVectorPassword[] = "pbs-vector-password";
constexpr char kVectorFingerprint[] =
    "0e:ab:d4:46:0b:6e:b9:ca:34:50:23:de:e2:b7:78:c7:90:e5:4a:16:83:b9:65:9c:0a:57:ae:19:90:90:"
    "15:9b";

std::string Hex(const RawKey& key) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

TEST(PbsCryptConfigKat, IdKeyAndFingerprintOfVectorKey) {
  CryptConfig config = CryptConfig::FromRawKey(VectorKey());
  EXPECT_EQ(Hex(config.enc_key()),
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(Hex(config.id_key()),
            "7c2c013efd07f3b25717a485263343cd4d292a4b65c200bb3b18ea227abe225c");
  EXPECT_EQ(config.FingerprintText(), kVectorFingerprint);
  EXPECT_EQ(ParseFingerprintText(kVectorFingerprint).value(), config.fingerprint());
}

TEST(PbsCryptConfigKat, EncryptedZeroChunkDigest) {
  CryptConfig config = CryptConfig::FromRawKey(VectorKey());
  std::string zeros(4 << 20, '\0');
  EXPECT_EQ(config.ChunkDigestOf(zeros).Hex(),
            "348571e12bbbedb529def1f1394316e338a01945d871df9ef792617ceb13d636");
  EXPECT_EQ(ChunkDigestOf(zeros, nullptr).Hex(),
            "bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8");
  EXPECT_EQ(Sha256(std::string(1 << 20, '\0')).Hex(),
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58");
}

TEST(PbsCryptConfigKat, RawKeyFromStringNeeds32Bytes) {
  std::string raw(reinterpret_cast<const char*>(VectorKey().data()), 32);
  absl::StatusOr<CryptConfig> config = CryptConfig::FromRawKey(std::string_view(raw));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->FingerprintText(), kVectorFingerprint);
  absl::StatusOr<CryptConfig> short_key = CryptConfig::FromRawKey(std::string_view(raw).substr(1));
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(short_key.status()), HasSubstr("32 bytes, got 31"));
}

TEST(PbsFingerprintText, RejectsMalformedText) {
  for (std::string_view bad : {"", "0e:ab",
                               "0e:ab:d4:46:0b:6e:b9:ca:34:50:23:de:e2:b7:78:c7:90:e5:"
                               "4a:16:83:b9:65:9c:0a:57:ae:19:90:90:15:9g",
                               "0eab"}) {
    EXPECT_EQ(ParseFingerprintText(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ParseFingerprintText("0E:AB:D4:46:0B:6E:B9:CA:34:50:23:DE:E2:B7:78:C7:90:E5:4A:16:"
                                   "83:B9:65:9C:0A:57:AE:19:90:90:15:9B")
                  .ok());
}

class PbsKeyFileVectorTest
    : public ::testing::TestWithParam<std::pair<const char*, KeyDerivation>> {};

TEST_P(PbsKeyFileVectorTest, UnwrapsToVectorKey) {
  std::string text = ReadFileBytes(VectorPath(std::string("keys/") + GetParam().first));
  absl::StatusOr<KeyFileInfo> info = InspectKeyFile(text);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->kdf, GetParam().second);
  EXPECT_EQ(info->fingerprint_text, kVectorFingerprint);
  EXPECT_EQ(info->created, "2026-01-01T00:00:00+00:00");

  absl::StatusOr<RawKey> key = UnwrapKeyFile(text, kVectorPassword);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, VectorKey());
  EXPECT_EQ(CryptConfig::FromRawKey(*key).FingerprintText(), kVectorFingerprint);
}

TEST_P(PbsKeyFileVectorTest, WrongOrMissingPassword) {
  std::string text = ReadFileBytes(VectorPath(std::string("keys/") + GetParam().first));
  if (GetParam().second == KeyDerivation::kNone) {
    // The password is ignored for unprotected keys.
    EXPECT_TRUE(UnwrapKeyFile(text, std::nullopt).ok());
    return;
  }
  absl::StatusOr<RawKey> key = UnwrapKeyFile(text, "wrong-password");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(key.status()), HasSubstr("unable to decrypt the key (wrong password?)"));

  key = UnwrapKeyFile(text, std::nullopt);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(key.status()), HasSubstr("protected by a password"));

  key = UnwrapKeyFile(text, "abcd");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(key.status()), HasSubstr("password is too short (4 bytes"));
}

INSTANTIATE_TEST_SUITE_P(PbsVectors, PbsKeyFileVectorTest,
                         ::testing::Values(std::pair{"key-none.json", KeyDerivation::kNone},
                                           std::pair{"key-pbkdf2.json", KeyDerivation::kPbkdf2},
                                           std::pair{"key-scrypt.json", KeyDerivation::kScrypt}),
                         [](const auto& info) {
                           std::string name = info.param.first;
                           return name.substr(4, name.find('.') - 4);
                         });

TEST(PbsKeyFile, WrongStoredFingerprintIsRefused) {
  std::string text = ReadFileBytes(VectorPath("keys/key-none.json"));
  size_t at = text.find("0e:ab");
  ASSERT_NE(at, std::string::npos);
  text[at + 1] = 'f';
  absl::StatusOr<RawKey> key = UnwrapKeyFile(text, std::nullopt);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(Message(key.status()), HasSubstr("key file contains wrong fingerprint 0f:ab"));
  EXPECT_THAT(Message(key.status()), HasSubstr(kVectorFingerprint));
}

TEST(PbsKeyFile, MalformedFilesAreClearErrors) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (Case c :
       {Case{"", "not valid JSON"}, Case{"[1]", "not a JSON object"},
        Case{R"({"data": "AAAA"})", "missing \"kdf\""},
        Case{R"({"kdf": null, "data": 5})", "\"data\" must be a base64 string"},
        Case{R"({"kdf": null, "data": "AAAA"})", "must be 32 bytes, got 3"},
        Case{R"({"kdf": {"scrypt": {}}, "data": "AAAA"})", "unknown kdf"},
        Case{R"({"kdf": {"Scrypt": {"n": -1}}, "data": "AAAA"})",
             "kdf.Scrypt.n must be a non-negative integer"},
        Case{R"({"kdf": {"PBKDF2": {"iter": 10, "salt": 1}}, "data": "AAAA"})",
             "kdf.PBKDF2.salt must be a base64 string"},
        Case{R"({"kdf": null, "data": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                          "fingerprint": "nope"})",
             "is not 32 colon-separated hex bytes"},
        Case{R"({"kdf": null, "created": 5, "data": "AAAA"})", "\"created\" must be a string"}}) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<RawKey> key = UnwrapKeyFile(c.text, "password");
    ASSERT_FALSE(key.ok());
    EXPECT_THAT(Message(key.status()), HasSubstr(c.message));
  }
}

TEST(PbsKeyFile, ScryptParametersOutOfBoundsAreRefused) {
  std::string text = R"({"kdf": {"Scrypt": {"n": 3, "r": 8, "p": 1, "salt": ""}},
    "data": "IiIiIiIiIiIiIiIiIiIiIjkPjk0O6y1pdn2Qftqu5iCS0UnHGmlC4qmb15QtaGpo7goxjeET7qZ6htN8Bmwvjw=="})";
  absl::StatusOr<RawKey> key = UnwrapKeyFile(text, "password");
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(Message(key.status()), HasSubstr("scrypt with n=3 r=8 p=1 failed"));
  // 2^30 * 8 * 128 bytes is far over the 1025 MiB upstream allows.
  EXPECT_FALSE(DeriveKeyScrypt("password", "", uint64_t{1} << 30, 8, 1).ok());
}

TEST(PbsKeyFile, CreateAndUnwrapEveryKdf) {
  RawKey raw = GenerateRawKey();
  EXPECT_NE(raw, RawKey{});
  for (KeyDerivation kdf : {KeyDerivation::kNone, KeyDerivation::kPbkdf2, KeyDerivation::kScrypt}) {
    SCOPED_TRACE(static_cast<int>(kdf));
    absl::StatusOr<std::string> text =
        CreateKeyFile(raw, kdf, "secret-password", "2026-01-01T00:00:00+00:00");
    ASSERT_TRUE(text.ok()) << text.status();
    absl::StatusOr<KeyFileInfo> info = InspectKeyFile(*text);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->kdf, kdf);
    EXPECT_EQ(info->modified, "2026-01-01T00:00:00+00:00");
    EXPECT_EQ(info->fingerprint_text, CryptConfig::FromRawKey(raw).FingerprintText());
    absl::StatusOr<RawKey> unwrapped = UnwrapKeyFile(*text, "secret-password");
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
    EXPECT_EQ(*unwrapped, raw);
    if (kdf != KeyDerivation::kNone) {
      EXPECT_FALSE(UnwrapKeyFile(*text, "other-password").ok());
    }
  }
  EXPECT_NE(CreateKeyFile(raw, KeyDerivation::kNone, std::nullopt, "now")->find("\"kdf\": null"),
            std::string::npos);
}

TEST(PbsKeyFile, CreateRefusesShortOrMissingPassword) {
  for (std::optional<std::string_view> password :
       {std::optional<std::string_view>(), std::optional<std::string_view>("1234")}) {
    absl::StatusOr<std::string> text =
        CreateKeyFile(VectorKey(), KeyDerivation::kPbkdf2, password, "now");
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(text.status()), HasSubstr("at least 5 bytes"));
  }
}

TEST(PbsKeyDerivationKat, Pbkdf2OfVectorFileParameters) {
  // Known answer from an independent implementation (Python hashlib.pbkdf2_hmac).
  std::string salt(32, '\x11');
  absl::StatusOr<RawKey> derived = DeriveKeyPbkdf2(kVectorPassword, salt, 65535);
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_EQ(Hex(*derived), "2496ace0848dd57fc3e50bde4792ffe4190078d32788a7f67914aa542f86e89c");
  EXPECT_FALSE(DeriveKeyPbkdf2(kVectorPassword, salt, 0).ok());
}

}  // namespace
}  // namespace chunkcache
