// A sign-only snapshot (plain chunks with plain digests, a signed manifest with the key's
// fingerprint), which `datastore create` does not make: built here with the format library,
// then read and verified by the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/manifest.h"
#include "tests/client/cli_runner.h"
#include "tests/testing/test_env.h"
#include "upstream/datastore_writer.h"
#include "upstream/key_source.h"

namespace chunkcache::testing {
namespace {

constexpr std::string_view kSnapshot = "host/signed/2026-01-01T00:00:00Z";

TEST(SignOnlySnapshot, VerifiesWithAndWithoutKeyAndReadsWithKey) {
  ScratchDir scratch;
  const std::string key_file = VectorPath("keys/key-none.json").string();
  absl::StatusOr<CryptConfig> key = LoadCryptConfig(key_file, {});
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(kSnapshot);
  ASSERT_TRUE(snapshot.ok());
  absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer = DatastoreWriter::Create(scratch / "ds");
  ASSERT_TRUE(writer.ok()) << writer.status();

  const std::string first = PseudoRandomBytes(100000, 1);
  const std::string second = PseudoRandomBytes(5000, 2);
  std::vector<DynamicEntry> entries;
  uint64_t end = 0;
  for (const std::string* data : {&first, &second}) {
    const ChunkDigest digest = Sha256(*data);
    absl::StatusOr<std::string> blob = EncodeBlob(*data, {.compress = true});
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE((*writer)->WriteChunk(digest, *blob).ok());
    end += data->size();
    entries.push_back({.end = end, .digest = digest});
  }
  absl::StatusOr<std::string> index = EncodeDynamicIndex(entries, {});
  ASSERT_TRUE(index.ok());
  ManifestFile entry{.filename = "data.pxar.didx",
                     .crypt_mode = CryptMode::kSignOnly,
                     .size = end,
                     .csum = Sha256(std::string_view(*index).substr(kIndexHeaderSize))};
  const std::string json = EncodeManifestJson({.backup_type = "host",
                                               .backup_id = "signed",
                                               .backup_time = snapshot->backup_time,
                                               .files = {entry}},
                                              &*key);
  absl::StatusOr<std::string> manifest = EncodeBlob(json, {.compress = true});
  ASSERT_TRUE(manifest.ok());
  ASSERT_TRUE((*writer)->WriteSnapshotFile(*snapshot, "data.pxar.didx", *index).ok());
  ASSERT_TRUE((*writer)->WriteSnapshotFile(*snapshot, "index.json.blob", *manifest).ok());

  const std::string ds = (scratch / "ds").string();
  CliResult without_key = RunChunkcache({"datastore", "verify", "--path", ds});
  EXPECT_EQ(without_key.exit_code, 0) << without_key.stdout_text;
  // Everything but the signature can be checked without the key.
  EXPECT_NE(without_key.stdout_text.find(std::string(kSnapshot) +
                                         ": ok (1 archives, 2 chunk references); its manifest "
                                         "signature was not checked"),
            std::string::npos)
      << without_key.stdout_text;
  EXPECT_EQ(without_key.stdout_text.find("without key"), std::string::npos);

  CliResult with_key = RunChunkcache({"datastore", "verify", "--path", ds, "--keyfile", key_file});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.stdout_text;
  EXPECT_NE(with_key.stdout_text.find(std::string(kSnapshot) + ": ok (1 archives, 2 chunk "
                                                               "references)\n"),
            std::string::npos)
      << with_key.stdout_text;

  CliResult cat =
      RunChunkcache({"datastore", "cat", "--path", ds, "--snapshot", std::string(kSnapshot),
                     "--archive", "data.pxar.didx", "--keyfile", key_file});
  ASSERT_EQ(cat.exit_code, 0) << cat.stderr_text;
  EXPECT_EQ(cat.stdout_text, first + second);
  CliResult cat_without_key =
      RunChunkcache({"datastore", "cat", "--path", ds, "--snapshot", std::string(kSnapshot),
                     "--archive", "data.pxar.didx"});
  EXPECT_EQ(cat_without_key.exit_code, 1);
  EXPECT_EQ(cat_without_key.stdout_size, 0u);

  // A chunk whose content does not match its digest is caught either way.
  const std::filesystem::path second_path =
      scratch / "ds/.chunks" / entries[1].digest.Hex().substr(0, 4) / entries[1].digest.Hex();
  absl::StatusOr<std::string> other = EncodeBlob(PseudoRandomBytes(5000, 3), {.compress = true});
  ASSERT_TRUE(other.ok());
  WriteFileBytes(second_path, *other);
  for (bool with : {false, true}) {
    std::vector<std::string> args = {"datastore", "verify", "--path", ds};
    if (with) args.insert(args.end(), {"--keyfile", key_file});
    CliResult bad = RunChunkcache(args);
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.stdout_text.find("bad chunk " + entries[1].digest.Hex() + ": reason=digest"),
              std::string::npos)
        << bad.stdout_text;
  }
}

}  // namespace
}  // namespace chunkcache::testing
