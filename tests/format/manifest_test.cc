// Manifest parsing, canonical JSON, signatures and the manifest checks of downloaded files.
#include "format/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/key_file.h"
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

constexpr char kPlainSnapshot[] = "datastore/vm/100/2026-01-01T00:00:00Z/";
constexpr char kEncryptedSnapshot[] = "datastore/ns/enc/vm/100/2026-01-02T00:00:00Z/";
constexpr char kDynamicSnapshot[] = "datastore/host/pxar-payload/2024-05-07T14:25:51Z/";
constexpr char kVectorFingerprint[] =
    "0e:ab:d4:46:0b:6e:b9:ca:34:50:23:de:e2:b7:78:c7:90:e5:4a:16:83:b9:65:9c:0a:57:ae:19:90:90:"
    "15:9b";

Manifest LoadManifest(const std::string& snapshot_dir) {
  absl::StatusOr<Manifest> m =
      Manifest::FromBlob(ReadFileBytes(VectorPath(snapshot_dir + "index.json.blob")));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : Manifest();
}

ChunkDigest Filled(uint8_t byte) {
  ChunkDigest d;
  d.bytes.fill(byte);
  return d;
}

TEST(PbsManifestKat, UpstreamTestManifestSignature) {
  // pbs-datastore manifest.rs test_manifest_signature: the scrypt output of "test" (n=65536,
  // r=8, p=1, empty salt) is used directly as the raw key.
  absl::StatusOr<RawKey> raw = DeriveKeyScrypt("test", "", 65536, 8, 1);
  ASSERT_TRUE(raw.ok()) << raw.status();
  // Known answer from an independent implementation (Python hashlib.scrypt).
  EXPECT_EQ(absl::BytesToHexString(
                absl::string_view(reinterpret_cast<const char*>(raw->data()), raw->size())),
            "28cdb1a3bef39396c3860e00d448fe7a0efd8244486ab6feb30457681d31597e");
  CryptConfig key = CryptConfig::FromRawKey(*raw);

  ManifestContent content{"host",
                          "elsa",
                          1593179765,
                          {ManifestFile{"test1.img.fidx", CryptMode::kEncrypt, 200, Filled(1)},
                           ManifestFile{"abc.blob", CryptMode::kNone, 200, Filled(2)}}};
  std::string json = EncodeManifestJson(content, &key);
  absl::StatusOr<Manifest> m = Manifest::Parse(json);
  ASSERT_TRUE(m.ok()) << m.status() << "\n" << json;
  EXPECT_EQ(m->signature(), "d7b446fb7db081662081d4b40fedd858a1d6307a5aff4ecff7d5bf4fd35679e9");
  EXPECT_EQ(m->key_fingerprint(), key.FingerprintText());
  EXPECT_TRUE(m->VerifyKey(&key).ok());
  EXPECT_EQ(m->SignedContent(),
            R"({"backup-id":"elsa","backup-time":1593179765,"backup-type":"host","files":[)"
            R"({"crypt-mode":"encrypt","csum":")" +
                Filled(1).Hex() +
                R"(","filename":"test1.img.fidx","size":200},)"
                R"({"crypt-mode":"none","csum":")" +
                Filled(2).Hex() + R"(","filename":"abc.blob","size":200}]})");
}

TEST(PbsManifestVectors, PlainSnapshot) {
  Manifest m = LoadManifest(kPlainSnapshot);
  EXPECT_EQ(m.backup_type(), "vm");
  EXPECT_EQ(m.backup_id(), "100");
  EXPECT_EQ(m.backup_time(), 1767225600);
  ASSERT_EQ(m.files().size(), 2u);
  EXPECT_FALSE(m.signature().has_value());
  EXPECT_FALSE(m.key_fingerprint().has_value());
  EXPECT_FALSE(m.NeedsKey());
  EXPECT_TRUE(m.VerifyKey(nullptr).ok());

  const ManifestFile* conf = m.FindFile("qemu-server.conf.blob");
  ASSERT_NE(conf, nullptr);
  EXPECT_EQ(conf->crypt_mode, CryptMode::kNone);
  EXPECT_EQ(conf->size, 88u);
  EXPECT_EQ(conf->csum.Hex(), "496a58a956e45f08f0e3fe5344e4d067c9cebaa4b9e65b1bde10eab6f9e14e0b");
  std::string conf_blob = ReadFileBytes(VectorPath(std::string(kPlainSnapshot) + conf->filename));
  EXPECT_TRUE(m.CheckBlobFile(conf->filename, conf_blob).ok());
  BlobDecodeOptions options;
  options.max_decoded_size = kMaxBlobFileSize;
  absl::StatusOr<std::string> config = DecodeBlob(conf_blob, options);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(std::count(config->begin(), config->end(), '\n'), 4);

  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(
      ReadFileBytes(VectorPath(std::string(kPlainSnapshot) + "drive-scsi0.img.fidx")));
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(m.CheckIndex("drive-scsi0.img.fidx", *index).ok());
  EXPECT_EQ(m.FindFile("drive-scsi0.img.fidx")->size, 16782216u);
  EXPECT_EQ(m.FindFile("missing.img.fidx"), nullptr);
}

TEST(PbsManifestVectors, EncryptedSnapshotSignatureVerifiesWithK) {
  Manifest m = LoadManifest(kEncryptedSnapshot);
  EXPECT_EQ(m.backup_time(), 1767312000);
  EXPECT_EQ(m.signature(), "5b4f48b5e5c3afcaf292535d8621f64894fafa3d771fe4b354e9cfdee314f4e8");
  EXPECT_EQ(m.key_fingerprint(), kVectorFingerprint);
  EXPECT_TRUE(m.NeedsKey());
  for (const ManifestFile& f : m.files()) EXPECT_EQ(f.crypt_mode, CryptMode::kEncrypt);

  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  absl::Status verified = m.VerifyKey(&key);
  EXPECT_TRUE(verified.ok()) << verified;

  absl::Status missing = m.VerifyKey(nullptr);
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      Message(missing),
      HasSubstr(absl::StrCat("missing key - manifest was created with key ", kVectorFingerprint)));

  RawKey other_raw = VectorKey();
  other_raw[31] ^= 0x80;
  CryptConfig other = CryptConfig::FromRawKey(other_raw);
  absl::Status wrong = m.VerifyKey(&other);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(wrong), HasSubstr("wrong key - manifest's key 0e:ab:d4"));

  std::string dir = kEncryptedSnapshot;
  EXPECT_TRUE(m.CheckBlobFile("qemu-server.conf.blob",
                              ReadFileBytes(VectorPath(dir + "qemu-server.conf.blob")))
                  .ok());
  absl::StatusOr<ChunkIndex> index =
      ChunkIndex::Parse(ReadFileBytes(VectorPath(dir + "drive-scsi0.img.fidx")));
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(m.CheckIndex("drive-scsi0.img.fidx", *index).ok());
}

TEST(PbsManifestVectors, TamperedSignedContentFailsSignature) {
  std::string blob = ReadFileBytes(VectorPath(std::string(kEncryptedSnapshot) + "index.json.blob"));
  absl::StatusOr<std::string> json = DecodeBlob(blob, {.max_decoded_size = kMaxBlobFileSize});
  ASSERT_TRUE(json.ok());
  std::string text = *json;
  size_t at = text.find("16782216");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 8, "16782217");
  absl::StatusOr<Manifest> m = Manifest::Parse(text);
  ASSERT_TRUE(m.ok());
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  absl::Status verified = m->VerifyKey(&key);
  EXPECT_EQ(verified.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(verified), HasSubstr("wrong signature in manifest"));

  // "unprotected" is outside the signature: changing it keeps the manifest valid.
  text = *json;
  at = text.find("\"unprotected\": {");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 16, R"("notes": "edited", )");
  m = Manifest::Parse(text);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->VerifyKey(&key).ok());
}

TEST(PbsManifestVectors, DynamicSnapshotChecksIndex) {
  Manifest m = LoadManifest(kDynamicSnapshot);
  EXPECT_EQ(m.backup_type(), "host");
  EXPECT_EQ(m.backup_id(), "pxar-payload");
  std::string name = "backup-client-pxar-data.ppxar.didx";
  absl::StatusOr<ChunkIndex> index =
      ChunkIndex::Parse(ReadFileBytes(VectorPath(std::string(kDynamicSnapshot) + name)));
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(m.CheckIndex(name, *index).ok());
}

TEST(PbsManifestChecks, UpstreamErrorTexts) {
  Manifest plain = LoadManifest(kPlainSnapshot);
  Manifest encrypted = LoadManifest(kEncryptedSnapshot);
  absl::StatusOr<ChunkIndex> encrypted_index = ChunkIndex::Parse(
      ReadFileBytes(VectorPath(std::string(kEncryptedSnapshot) + "drive-scsi0.img.fidx")));
  ASSERT_TRUE(encrypted_index.ok());

  absl::Status s = plain.CheckIndex("drive-scsi0.img.fidx", *encrypted_index);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(s), HasSubstr("wrong checksum for file 'drive-scsi0.img.fidx'"));

  s = plain.CheckIndex("drive-scsi1.img.fidx", *encrypted_index);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(s), HasSubstr("manifest does not contain file 'drive-scsi1.img.fidx'"));

  absl::StatusOr<ChunkIndex> didx =
      ChunkIndex::Parse(ReadFileBytes(VectorPath("upstream/backup-client-pxar-data.ppxar.didx")));
  ASSERT_TRUE(didx.ok());
  s = plain.CheckIndex("drive-scsi0.img.fidx", *didx);
  EXPECT_THAT(Message(s),
              HasSubstr("wrong size for file 'drive-scsi0.img.fidx' (16782216 != 104859232)"));

  s = encrypted.CheckBlobFile("qemu-server.conf.blob", "short");
  EXPECT_THAT(Message(s), HasSubstr("wrong size for file 'qemu-server.conf.blob' (120 != 5)"));
  s = encrypted.CheckBlobFile("qemu-server.conf.blob", std::string(120, 'x'));
  EXPECT_THAT(Message(s), HasSubstr("wrong checksum for file 'qemu-server.conf.blob'"));
}

TEST(PbsManifestParse, MissingCryptModeMeansNone) {
  absl::StatusOr<Manifest> m = Manifest::Parse(
      R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[{"filename":"a.blob",)"
      R"("size":3,"csum":")" +
      Filled(0xab).Hex() + R"("}]})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->files()[0].crypt_mode, CryptMode::kNone);
  EXPECT_EQ(m->files()[0].csum, Filled(0xab));
  EXPECT_FALSE(m->NeedsKey());
}

TEST(PbsManifestParse, MissingOrMistypedFieldsAreNamed) {
  const std::string csum = Filled(1).Hex();
  struct Case {
    std::string json;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "not valid JSON"},
           {"[]", "not a JSON object"},
           {R"({"backup-id":"1","backup-time":5,"files":[]})", "\"backup-type\" must be a string"},
           {R"({"backup-type":"vm","backup-id":1,"backup-time":5,"files":[]})",
            "\"backup-id\" must be a string"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":"5","files":[]})",
            "\"backup-time\" must be an integer"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5})",
            "\"files\" must be an array"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[{"size":1}]})",
            "files[0].\"filename\" must be a string"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[{"filename":"a",)"
            R"("size":-1,"csum":")" +
                csum + R"("}]})",
            "files[0].\"size\" must be a non-negative integer"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[{"filename":"a",)"
            R"("size":1,"csum":"abc"}]})",
            "files[0].\"csum\" is invalid"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[{"filename":"a",)"
            R"("size":1,"crypt-mode":"secret","csum":")" +
                csum + R"("}]})",
            "files[0].\"crypt-mode\" is invalid: unknown crypt mode 'secret'"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[],"signature":1})",
            "\"signature\" must be a string or null"},
           {R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[],"unprotected":[]})",
            "\"unprotected\" must be an object"},
       }) {
    SCOPED_TRACE(c.json);
    absl::StatusOr<Manifest> m = Manifest::Parse(c.json);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(Message(m.status()), HasSubstr(c.message));
  }
}

TEST(PbsManifestCanonicalJson, SortsKeysAndEscapesLikeSerde) {
  absl::StatusOr<Manifest> m = Manifest::Parse(
      R"({"z":1,"backup-type":"vm","backup-id":"a\"b\\c\n\u0001\u007f\u00e9","backup-time":-3,)"
      R"("files":[],"extra":{"b":true,"a":[false,1.5,"x"]},"signature":null,)"
      R"("unprotected":{"note":null}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->SignedContent(),
            "{\"backup-id\":\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\",\"backup-time\":-3,"
            "\"backup-type\":\"vm\",\"extra\":{\"a\":[false,1.5,\"x\"],\"b\":true},"
            "\"files\":[],\"z\":1}");
}

TEST(PbsManifestCanonicalJson, NullInSignedContentIsAnError) {
  absl::StatusOr<Manifest> m = Manifest::Parse(
      R"({"backup-type":"vm","backup-id":"1","backup-time":5,"files":[],"extra":{"x":null},)"
      R"("signature":"00"})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->SignedContent(), "");
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  absl::Status verified = m->VerifyKey(&key);
  EXPECT_EQ(verified.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(verified), HasSubstr("cannot contain null (found at extra.x)"));
}

TEST(PbsManifestEncode, RoundTripWithoutKey) {
  ManifestContent content{"ct",
                          "200",
                          1767225600,
                          {ManifestFile{"root.pxar.didx", CryptMode::kSignOnly, 12345, Filled(9)}}};
  std::string json = EncodeManifestJson(content, nullptr);
  EXPECT_NE(json.find("\"signature\": null"), std::string::npos) << json;
  absl::StatusOr<Manifest> m = Manifest::Parse(json);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->backup_type(), "ct");
  EXPECT_EQ(m->files()[0].crypt_mode, CryptMode::kSignOnly);
  EXPECT_EQ(m->files()[0].size, 12345u);
  EXPECT_FALSE(m->signature().has_value());

  // A manifest blob as the server stores it decodes through FromBlob.
  absl::StatusOr<std::string> blob = EncodeBlob(json, {});
  ASSERT_TRUE(blob.ok());
  absl::StatusOr<Manifest> from_blob = Manifest::FromBlob(*blob);
  ASSERT_TRUE(from_blob.ok()) << from_blob.status();
  EXPECT_EQ(from_blob->backup_id(), "200");
}

TEST(PbsManifestFromBlob, EncryptedOrBrokenBlobsAreRefused) {
  CryptConfig key = CryptConfig::FromRawKey(VectorKey());
  absl::StatusOr<Manifest> m = Manifest::FromBlob(EncodeBlob("{}", {.key = &key}).value());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(Message(m.status()), HasSubstr("PBS never encrypts manifests"));
  m = Manifest::FromBlob(ReadFileBytes(VectorPath("blobs/negative/bad-crc.blob")));
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(Message(m.status()), HasSubstr("manifest index.json.blob: CRC mismatch"));
}

}  // namespace
}  // namespace chunkcache
