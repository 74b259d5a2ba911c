#include "tests/upstream/upstream_conformance.h"

#include <atomic>
#include <map>
#include <thread>

#include "absl/status/status.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/manifest.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_writer.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kFixtureChunkSize = 64 * 1024;

SnapshotName MustParse(std::string_view text) {
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(text);
  if (!name.ok()) {
    ADD_FAILURE() << name.status();
    return {};
  }
  return *name;
}

template <typename T>
T MustOk(absl::StatusOr<T> value) {
  if (!value.ok()) {
    ADD_FAILURE() << value.status();
    return T{};
  }
  return std::move(*value);
}

// Encodes `data` as a chunk, records it in the fixture and returns its digest.
ChunkDigest AddChunk(UpstreamFixture& fixture, std::string_view data, const CryptConfig* key) {
  const ChunkDigest digest = ChunkDigestOf(data, key);
  fixture.chunks.emplace_back(digest, MustOk(EncodeBlob(data, {.compress = true, .key = key})));
  return digest;
}

void AddFile(UpstreamFixture& fixture, const SnapshotName& snapshot, std::string name,
             std::string bytes) {
  fixture.snapshot_files.push_back({snapshot, std::move(name), std::move(bytes)});
}

// Adds an index file and the manifest naming it (and `extra` files) to `snapshot`.
void AddIndexAndManifest(UpstreamFixture& fixture, const SnapshotName& snapshot,
                         const std::string& archive, std::string index_bytes, uint64_t size,
                         std::vector<ManifestFile> extra) {
  ManifestFile entry;
  entry.filename = archive;
  entry.size = size;
  entry.csum = Sha256(std::string_view(index_bytes).substr(kIndexHeaderSize));
  extra.push_back(entry);
  ManifestContent content{.backup_type = snapshot.backup_type,
                          .backup_id = snapshot.backup_id,
                          .backup_time = snapshot.backup_time,
                          .files = extra};
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(index_bytes);
  if (index.ok()) {
    for (const ChunkDigest& digest : index->digests()) {
      fixture.chunk_references.push_back({digest, snapshot, archive});
    }
  } else {
    ADD_FAILURE() << index.status();
  }
  AddFile(fixture, snapshot, archive, std::move(index_bytes));
  AddFile(fixture, snapshot, std::string(kManifestFileName),
          MustOk(EncodeBlob(EncodeManifestJson(content, nullptr), {.compress = true})));
}

}  // namespace

UpstreamFixture StandardUpstreamFixture() {
  UpstreamFixture fixture;
  const std::string random_a = PseudoRandomBytes(kFixtureChunkSize, 1);
  const std::string random_b = PseudoRandomBytes(kFixtureChunkSize, 2);
  const std::string zeros(kFixtureChunkSize, '\0');
  const std::string tail = PseudoRandomBytes(1000, 3);
  const ChunkDigest a = AddChunk(fixture, random_a, nullptr);
  const ChunkDigest b = AddChunk(fixture, random_b, nullptr);
  const ChunkDigest z = AddChunk(fixture, zeros, nullptr);
  const ChunkDigest t = AddChunk(fixture, tail, nullptr);
  RawKey raw_key;
  for (size_t i = 0; i < raw_key.size(); ++i) raw_key[i] = static_cast<uint8_t>(i);
  fixture.key = raw_key;
  const CryptConfig key = CryptConfig::FromRawKey(raw_key);
  const ChunkDigest encrypted = AddChunk(fixture, random_a, &key);

  const IndexHeaderFields header{.uuid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                                 .ctime = 1767225600};
  const uint64_t image_size = 3 * kFixtureChunkSize + tail.size();
  const std::string config_blob =
      MustOk(EncodeBlob("cores: 2\nmemory: 2048\n", {.compress = true}));
  ManifestFile config_entry{.filename = "qemu-server.conf.blob",
                            .crypt_mode = CryptMode::kNone,
                            .size = config_blob.size(),
                            .csum = Sha256(config_blob)};

  const SnapshotName vm_day1 = MustParse("vm/100/2026-01-01T00:00:00Z");
  AddFile(fixture, vm_day1, "qemu-server.conf.blob", config_blob);
  AddIndexAndManifest(fixture, vm_day1, "drive-scsi0.img.fidx",
                      MustOk(EncodeFixedIndex(image_size, kFixtureChunkSize, {a, z, b, t}, header)),
                      image_size, {config_entry});

  // The second day also has an encrypted disk of one chunk; its index is listed in the manifest
  // like any other, so a PBS server lets a reader session fetch its chunk.
  const SnapshotName vm_day2 = MustParse("vm/100/2026-01-02T00:00:00Z");
  const std::string encrypted_index =
      MustOk(EncodeFixedIndex(kFixtureChunkSize, kFixtureChunkSize, {encrypted}, header));
  ManifestFile encrypted_entry{
      .filename = "drive-scsi1.img.fidx",
      .crypt_mode = CryptMode::kEncrypt,
      .size = kFixtureChunkSize,
      .csum = Sha256(std::string_view(encrypted_index).substr(kIndexHeaderSize))};
  fixture.chunk_references.push_back({encrypted, vm_day2, "drive-scsi1.img.fidx"});
  AddFile(fixture, vm_day2, "drive-scsi1.img.fidx", encrypted_index);
  AddIndexAndManifest(fixture, vm_day2, "drive-scsi0.img.fidx",
                      MustOk(EncodeFixedIndex(image_size, kFixtureChunkSize, {a, z, z, t}, header)),
                      image_size, {encrypted_entry});

  const SnapshotName ct = MustParse("ns/a/ns/b/ct/200/2026-01-02T03:04:05Z");
  const std::vector<DynamicEntry> entries = {{.end = kFixtureChunkSize, .digest = b},
                                             {.end = 2 * kFixtureChunkSize, .digest = a},
                                             {.end = 2 * kFixtureChunkSize + 1000, .digest = t}};
  AddIndexAndManifest(fixture, ct, "root.pxar.didx", MustOk(EncodeDynamicIndex(entries, header)),
                      2 * kFixtureChunkSize + 1000, {});

  // An unfinished backup: its index is there, its manifest is not, so it is not listed.
  const SnapshotName unfinished = MustParse("host/web/2026-01-03T00:00:00Z");
  AddFile(fixture, unfinished, "root.pxar.didx", MustOk(EncodeDynamicIndex(entries, header)));

  fixture.listed_snapshots = {vm_day1, vm_day2, ct};
  return fixture;
}

UpstreamFixture LargeChunkUpstreamFixture(size_t chunk_size, int chunks) {
  UpstreamFixture fixture;
  std::vector<ChunkDigest> digests;
  for (int i = 0; i < chunks; ++i) {
    digests.push_back(AddChunk(fixture, PseudoRandomBytes(chunk_size, 100 + i), nullptr));
  }
  const IndexHeaderFields header{.uuid = {9, 8, 7, 6, 5, 4, 3, 2, 1}, .ctime = 1767225600};
  const uint64_t image_size = chunk_size * static_cast<uint64_t>(chunks);
  const SnapshotName snapshot = MustParse("vm/300/2026-01-01T00:00:00Z");
  AddIndexAndManifest(fixture, snapshot, "drive-scsi0.img.fidx",
                      MustOk(EncodeFixedIndex(image_size, chunk_size, digests, header)), image_size,
                      {});
  fixture.listed_snapshots = {snapshot};
  return fixture;
}

ChunkReadOptions ReferenceFor(const UpstreamFixture& fixture, const ChunkDigest& digest) {
  ChunkReadOptions options;
  for (const UpstreamFixture::ChunkReference& reference : fixture.chunk_references) {
    if (reference.digest != digest) continue;
    options.snapshot = reference.snapshot;
    options.archive = reference.archive;
    return options;
  }
  if (!fixture.chunk_references.empty()) {
    options.snapshot = fixture.chunk_references.front().snapshot;
    options.archive = fixture.chunk_references.front().archive;
  }
  return options;
}

std::string UpstreamImplementationName(
    const ::testing::TestParamInfo<UpstreamImplementation>& info) {
  return info.param.name;
}

absl::StatusOr<std::shared_ptr<MemoryUpstream>> MakeMemoryUpstreamWith(
    const UpstreamFixture& fixture) {
  auto upstream = std::make_shared<MemoryUpstream>();
  for (const auto& [digest, blob] : fixture.chunks) upstream->AddChunk(digest, blob);
  for (const UpstreamFixture::SnapshotFile& file : fixture.snapshot_files) {
    absl::Status status = upstream->AddSnapshotFile(file.snapshot, file.name, file.bytes);
    if (!status.ok()) return status;
  }
  return upstream;
}

absl::Status WriteFixtureDatastore(const UpstreamFixture& fixture,
                                   const std::filesystem::path& dir) {
  absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer = DatastoreWriter::Create(dir);
  if (!writer.ok()) return writer.status();
  for (const auto& [digest, blob] : fixture.chunks) {
    absl::StatusOr<bool> written = (*writer)->WriteChunk(digest, blob);
    if (!written.ok()) return written.status();
  }
  for (const UpstreamFixture::SnapshotFile& file : fixture.snapshot_files) {
    absl::Status status = (*writer)->WriteSnapshotFile(file.snapshot, file.name, file.bytes);
    if (!status.ok()) return status;
    status = (*writer)->EnsureGroupOwner(file.snapshot);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void UpstreamConformanceTest::SetUp() {
  fixture_ = StandardUpstreamFixture();
  absl::StatusOr<std::shared_ptr<Upstream>> upstream = GetParam().make(fixture_, scratch_.path());
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  ASSERT_NE(*upstream, nullptr);
  upstream_ = std::move(*upstream);
}

bool UpstreamConformanceTest::SameChunk(const ChunkDigest& digest, const std::string& got,
                                        const std::string& stored) const {
  if (GetParam().chunk_bytes == ChunkBytes::kExact) return got == stored;
  const CryptConfig key = CryptConfig::FromRawKey(fixture_.key);
  BlobDecodeOptions options;
  options.key = &key;
  options.expected_digest = digest;
  options.expected_mode = ModeOf(stored);
  absl::StatusOr<std::string> want = DecodeBlob(stored, options);
  options.accept_verified_plaintext = upstream_->DeliversPlaintext();
  absl::StatusOr<std::string> have = DecodeBlob(got, options);
  EXPECT_TRUE(have.ok()) << digest.Hex() << ": " << have.status();
  return want.ok() && have.ok() && *want == *have;
}

CryptMode UpstreamConformanceTest::ModeOf(const std::string& stored) {
  absl::StatusOr<BlobKind> kind = PeekBlobKind(stored);
  return kind.ok() && IsEncrypted(*kind) ? CryptMode::kEncrypt : CryptMode::kNone;
}

namespace {

SnapshotName Snapshot(std::vector<std::string> ns, std::string type, std::string id,
                      int64_t time = 1767225600) {
  SnapshotName name;
  name.namespace_components = std::move(ns);
  name.backup_type = std::move(type);
  name.backup_id = std::move(id);
  name.backup_time = time;
  return name;
}

TEST_P(UpstreamConformanceTest, ReadsSnapshotFilesExactly) {
  for (const UpstreamFixture::SnapshotFile& file : fixture_.snapshot_files) {
    absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(file.snapshot, file.name);
    ASSERT_TRUE(bytes.ok()) << file.snapshot.RelativeDir() << "/" << file.name << ": "
                            << bytes.status();
    EXPECT_EQ(*bytes, file.bytes) << file.snapshot.RelativeDir() << "/" << file.name;
  }
}

TEST_P(UpstreamConformanceTest, ReadsChunksExactly) {
  for (const auto& [digest, blob] : fixture_.chunks) {
    absl::StatusOr<std::string> bytes =
        upstream_->ReadChunk(digest, ReferenceFor(fixture_, digest));
    ASSERT_TRUE(bytes.ok()) << digest.Hex() << ": " << bytes.status();
    EXPECT_TRUE(SameChunk(digest, *bytes, blob)) << digest.Hex();
  }
}

TEST_P(UpstreamConformanceTest, ReadsChunksGivenTheirCryptMode) {
  for (const auto& [digest, blob] : fixture_.chunks) {
    const CryptMode mode = ModeOf(blob);
    for (CryptMode given : {mode, mode == CryptMode::kNone ? CryptMode::kSignOnly : mode}) {
      ChunkReadOptions options = ReferenceFor(fixture_, digest);
      options.crypt_mode = given;
      absl::StatusOr<std::string> bytes = upstream_->ReadChunk(digest, options);
      ASSERT_TRUE(bytes.ok()) << digest.Hex() << " as " << CryptModeName(given) << ": "
                              << bytes.status();
      EXPECT_TRUE(SameChunk(digest, *bytes, blob))
          << digest.Hex() << " as " << CryptModeName(given);
    }
  }
}

TEST_P(UpstreamConformanceTest, ChunkGivenTheWrongCryptModeIsNeverAnotherChunk) {
  // An upstream may read the chunk in the given mode only and fail, or ignore the mode; it
  // never returns anything but the chunk.
  for (const auto& [digest, blob] : fixture_.chunks) {
    const CryptMode wrong =
        ModeOf(blob) == CryptMode::kEncrypt ? CryptMode::kNone : CryptMode::kEncrypt;
    ChunkReadOptions options = ReferenceFor(fixture_, digest);
    options.crypt_mode = wrong;
    absl::StatusOr<std::string> bytes = upstream_->ReadChunk(digest, options);
    if (bytes.ok()) {
      EXPECT_TRUE(SameChunk(digest, *bytes, blob)) << digest.Hex();
    } else {
      EXPECT_TRUE(absl::IsDataLoss(bytes.status())) << digest.Hex() << ": " << bytes.status();
    }
  }
}

TEST_P(UpstreamConformanceTest, DeliversPlaintextExactlyWhenChunksAreNotTheStoredBlobs) {
  EXPECT_EQ(upstream_->DeliversPlaintext(), GetParam().chunk_bytes == ChunkBytes::kEquivalent);
}

TEST_P(UpstreamConformanceTest, MissingSnapshotIsNotFound) {
  for (const SnapshotName& missing :
       {Snapshot({}, "vm", "999"), Snapshot({}, "vm", "100", 1767225601),
        Snapshot({"a"}, "ct", "200"), Snapshot({"nope"}, "vm", "100"),
        Snapshot({}, "host", "web", 1767398400 + 1)}) {
    absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(missing, "index.json.blob");
    EXPECT_TRUE(absl::IsNotFound(bytes.status()))
        << missing.RelativeDir() << ": " << bytes.status();
  }
}

TEST_P(UpstreamConformanceTest, MissingFileIsNotFound) {
  const SnapshotName& snapshot = fixture_.listed_snapshots.front();
  for (std::string_view name : {"drive-scsi1.img.fidx", "root.pxar.didx", "fw.conf.blob"}) {
    absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(snapshot, name);
    EXPECT_TRUE(absl::IsNotFound(bytes.status())) << name << ": " << bytes.status();
  }
  // The unfinished snapshot has its index but no manifest.
  absl::StatusOr<std::string> manifest =
      upstream_->ReadSnapshotFile(Snapshot({}, "host", "web", 1767398400), "index.json.blob");
  EXPECT_TRUE(absl::IsNotFound(manifest.status())) << manifest.status();
}

TEST_P(UpstreamConformanceTest, MissingChunkIsNotFound) {
  const ChunkDigest absent = Sha256("no chunk has this content");
  absl::StatusOr<std::string> bytes = upstream_->ReadChunk(absent, ReferenceFor(fixture_, absent));
  EXPECT_TRUE(absl::IsNotFound(bytes.status())) << bytes.status();
  EXPECT_NE(std::string(bytes.status().message()).find(absent.Hex()), std::string::npos)
      << "the message should name the chunk: " << bytes.status();
}

TEST_P(UpstreamConformanceTest, FileNamesThatCouldEscapeAreInvalidArgument) {
  const SnapshotName& snapshot = fixture_.listed_snapshots.front();
  const std::string chunk_hex = fixture_.chunks.front().first.Hex();
  const std::vector<std::string> names = {
      "",
      ".",
      "..",
      "../index.json.blob",
      "../../../.chunks/" + chunk_hex.substr(0, 4) + "/" + chunk_hex,
      "../../.chunks/x.fidx",
      "/etc/passwd",
      "/etc/passwd.blob",
      "a/b.fidx",
      "drive-scsi0.img.fidx/..",
      std::string("drive-scsi0.img.fidx\0.blob", 26),
      std::string("\0", 1),
      "owner",
      "index.json",
      ".hidden.fidx",
      "drive-scsi0.img.fidx\n",
      "..\\..\\x.fidx",
  };
  for (const std::string& name : names) {
    absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(snapshot, name);
    EXPECT_TRUE(absl::IsInvalidArgument(bytes.status()))
        << "'" << name << "' (" << name.size() << " bytes): " << bytes.status();
  }
}

TEST_P(UpstreamConformanceTest, SnapshotNamesThatCouldEscapeAreInvalidArgument) {
  const std::vector<SnapshotName> names = {
      Snapshot({".."}, "vm", "100"),
      Snapshot({"a/b"}, "ct", "200"),
      Snapshot({"a", "..", ".."}, "vm", "100"),
      Snapshot({""}, "vm", "100"),
      Snapshot({"/etc"}, "vm", "100"),
      Snapshot({std::string("a\0b", 3)}, "vm", "100"),
      Snapshot({"1", "2", "3", "4", "5", "6", "7", "8"}, "vm", "100"),
      Snapshot({}, "../vm", "100"),
      Snapshot({}, "..", "100"),
      Snapshot({}, "VM", "100"),
      Snapshot({}, "", "100"),
      Snapshot({}, "vm", ".."),
      Snapshot({}, "vm", "../../.chunks"),
      Snapshot({}, "vm", "100/../101"),
      Snapshot({}, "vm", ""),
      Snapshot({}, "vm", std::string("100\0x", 5)),
      Snapshot({}, "vm", "/100"),
  };
  for (const SnapshotName& name : names) {
    absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(name, "index.json.blob");
    EXPECT_TRUE(absl::IsInvalidArgument(bytes.status()))
        << "'" << name.RelativeDir() << "': " << bytes.status();
  }
}

TEST_P(UpstreamConformanceTest, ListsFinishedSnapshotsInOrder) {
  absl::StatusOr<std::vector<SnapshotName>> snapshots = upstream_->ListSnapshots();
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  std::vector<std::string> got, want;
  for (const SnapshotName& s : *snapshots) got.push_back(s.RelativeDir());
  for (const SnapshotName& s : fixture_.listed_snapshots) want.push_back(s.RelativeDir());
  EXPECT_EQ(got, want);
  EXPECT_EQ(*snapshots, fixture_.listed_snapshots);
}

TEST_P(UpstreamConformanceTest, ConcurrentReadsReturnExactBytes) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::atomic<int> mismatches{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const auto& [digest, blob] = fixture_.chunks[(t + round) % fixture_.chunks.size()];
        absl::StatusOr<std::string> chunk =
            upstream_->ReadChunk(digest, ReferenceFor(fixture_, digest));
        if (!chunk.ok() || !SameChunk(digest, *chunk, blob)) {
          ++mismatches;
          ADD_FAILURE() << "chunk " << digest.Hex() << ": " << chunk.status();
        }
        const UpstreamFixture::SnapshotFile& file =
            fixture_.snapshot_files[(t * 7 + round) % fixture_.snapshot_files.size()];
        absl::StatusOr<std::string> bytes = upstream_->ReadSnapshotFile(file.snapshot, file.name);
        if (!bytes.ok() || *bytes != file.bytes) {
          ++mismatches;
          ADD_FAILURE() << file.snapshot.RelativeDir() << "/" << file.name << ": "
                        << bytes.status();
        }
        if (round % 5 == 0) {
          absl::StatusOr<std::vector<SnapshotName>> listed = upstream_->ListSnapshots();
          if (!listed.ok() || listed->size() != fixture_.listed_snapshots.size()) ++mismatches;
        }
        reads += 2;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(reads.load(), kThreads * kRounds * 2);
}

TEST_P(UpstreamConformanceTest, IsReadableAndDescribesItself) {
  EXPECT_TRUE(upstream_->CheckReadable().ok());
  EXPECT_FALSE(upstream_->Describe().empty());
}

}  // namespace
}  // namespace chunkcache::testing
