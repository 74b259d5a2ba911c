#include "client/cli/datastore_verify.h"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "client/cli/command_status.h"
#include "client/cli/key_options.h"
#include "client/cli/snapshot_access.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/decode_error.h"
#include "format/manifest.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_upstream.h"

namespace chunkcache {
namespace {

struct VerifyOptions {
  std::string path;
  std::string snapshot;
  KeyOptions key;
};

struct VerifyCounts {
  uint64_t snapshots = 0;
  uint64_t archives = 0;
  uint64_t chunk_references = 0;
  uint64_t distinct_chunks = 0;
  uint64_t bad_chunks = 0;
  uint64_t bad_indexes = 0;
  uint64_t bad_manifests = 0;
  uint64_t chunks_without_key = 0;  // CRC and crypt mode checked, digest not (no key)
  uint64_t blobs_without_key = 0;   // size and checksum checked, content not (no key)

  uint64_t problems() const { return bad_chunks + bad_indexes + bad_manifests; }
};

// What went wrong, as a short word for the report: a decode reason, "missing", or the code.
std::string ReasonOf(const absl::Status& status) {
  if (std::optional<DecodeErrorReason> reason = GetDecodeErrorReason(status)) {
    return std::string(DecodeErrorReasonName(*reason));
  }
  if (absl::IsNotFound(status)) return "missing";
  return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

class DatastoreVerifier {
 public:
  DatastoreVerifier(Upstream& upstream, const CryptConfig* key) : upstream_(upstream), key_(key) {}

  void VerifySnapshot(const SnapshotName& snapshot) {
    ++counts_.snapshots;
    const uint64_t problems_before = counts_.problems();
    const uint64_t without_key_before = counts_.chunks_without_key + counts_.blobs_without_key;
    const std::string snapshot_text = snapshot.RelativeDir();

    absl::StatusOr<Manifest> manifest = ReadManifest(upstream_, snapshot);
    if (!manifest.ok()) {
      ReportManifest(snapshot, manifest.status());
      return;
    }
    // Without a key an encrypted snapshot is checked as far as that goes; with one, a key that
    // does not match would fail every chunk, so that is the one problem reported.
    const bool limited = key_ == nullptr && manifest->NeedsKey();
    if (!limited) {
      absl::Status key_ok = CheckManifestKey(*manifest, key_, snapshot);
      if (!key_ok.ok()) {
        ReportManifest(snapshot, key_ok);
        return;
      }
    }
    uint64_t references = 0;
    for (const ManifestFile& file : manifest->files()) {
      ++counts_.archives;
      if (file.filename.ends_with(".blob")) {
        VerifyBlobArchive(snapshot, *manifest, file);
      } else {
        references += VerifyIndexArchive(snapshot, *manifest, file);
      }
    }

    const uint64_t problems = counts_.problems() - problems_before;
    if (problems > 0) {
      std::printf("snapshot %s: %" PRIu64 " problem(s)\n", snapshot_text.c_str(), problems);
    } else if (counts_.chunks_without_key + counts_.blobs_without_key > without_key_before) {
      std::printf("snapshot %s: ok without key (%zu archives, %" PRIu64
                  " chunk references): encrypted data was checked for CRC and crypt mode only, "
                  "not for digests and contents (pass --keyfile)\n",
                  snapshot_text.c_str(), manifest->files().size(), references);
    } else if (limited) {
      std::printf("snapshot %s: ok (%zu archives, %" PRIu64
                  " chunk references); its manifest signature was not checked (pass --keyfile)\n",
                  snapshot_text.c_str(), manifest->files().size(), references);
    } else {
      std::printf("snapshot %s: ok (%zu archives, %" PRIu64 " chunk references)\n",
                  snapshot_text.c_str(), manifest->files().size(), references);
    }
  }

  const VerifyCounts& counts() const { return counts_; }

 private:
  // The key for decoding this archive's data: only encrypted archives use it. Sign-only chunks
  // are plain with plain SHA-256 digests (PBS's server verifies them without any key).
  const CryptConfig* KeyFor(const ManifestFile& file) const {
    return file.crypt_mode == CryptMode::kEncrypt ? key_ : nullptr;
  }

  uint64_t VerifyIndexArchive(const SnapshotName& snapshot, const Manifest& manifest,
                              const ManifestFile& file) {
    const std::string shown = ArchivePath(snapshot, file.filename);
    absl::StatusOr<std::string> bytes = upstream_.ReadSnapshotFile(snapshot, file.filename);
    if (!bytes.ok()) {
      ReportIndex(shown, ReasonOf(bytes.status()), bytes.status());
      return 0;
    }
    absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*bytes);
    if (!index.ok()) {
      ReportIndex(shown, "format", index.status());
      return 0;
    }
    absl::Status matches = manifest.CheckIndex(file.filename, *index);
    if (!matches.ok()) {
      // The chunks are still worth checking: the index itself parsed.
      ReportIndex(shown, "manifest", matches);
    }
    for (size_t entry = 0; entry < index->chunk_count(); ++entry) {
      VerifyChunk(*index, entry, file, shown);
    }
    return index->chunk_count();
  }

  void VerifyChunk(const ChunkIndex& index, size_t entry, const ManifestFile& file,
                   const std::string& archive_shown) {
    ++counts_.chunk_references;
    const ChunkDigest& digest = index.digest(entry);
    const uint64_t size = index.range(entry).size();
    const CryptConfig* key = KeyFor(file);
    // The same digest with the same expectations always gives the same verdict.
    const std::string memo_key = absl::StrFormat("%s/%d/%s/%d", digest.Hex(), size,
                                                 CryptModeName(file.crypt_mode), key != nullptr);
    if (!checked_.insert(memo_key).second) return;
    ++counts_.distinct_chunks;

    const std::string path = ChunkRelativePath(digest);
    absl::StatusOr<std::string> blob = upstream_.ReadChunk(digest);
    absl::Status status = blob.status();
    if (blob.ok()) {
      status = DecodeBlob(*blob, ChunkDecodeOptions(index, entry, file.crypt_mode, key, "chunk"))
                   .status();
    }
    if (status.ok()) return;
    if (key == nullptr && file.crypt_mode == CryptMode::kEncrypt &&
        absl::IsFailedPrecondition(status)) {
      // Decoding got past the CRC and crypt-mode checks and stopped for want of the key.
      ++counts_.chunks_without_key;
      return;
    }
    ++counts_.bad_chunks;
    const std::string message(status.message());
    std::printf("bad chunk %s: reason=%s path=%s archive=%s entry=%zu: %s\n", digest.Hex().c_str(),
                ReasonOf(status).c_str(), path.c_str(), archive_shown.c_str(), entry,
                message.c_str());
  }

  void VerifyBlobArchive(const SnapshotName& snapshot, const Manifest& manifest,
                         const ManifestFile& file) {
    const std::string shown = ArchivePath(snapshot, file.filename);
    absl::StatusOr<std::string> raw = upstream_.ReadSnapshotFile(snapshot, file.filename);
    if (!raw.ok()) {
      ReportIndex(shown, ReasonOf(raw.status()), raw.status());
      return;
    }
    absl::Status matches = manifest.CheckBlobFile(file.filename, *raw);
    if (!matches.ok()) {
      ReportIndex(shown, "manifest", matches);
      return;
    }
    BlobDecodeOptions options;
    options.key = KeyFor(file);
    options.expected_mode = file.crypt_mode;
    options.max_decoded_size = kMaxBlobFileSize;
    options.label = shown;
    absl::Status decoded = DecodeBlob(*raw, options).status();
    if (decoded.ok()) return;
    if (options.key == nullptr && file.crypt_mode == CryptMode::kEncrypt &&
        absl::IsFailedPrecondition(decoded)) {
      ++counts_.blobs_without_key;  // the manifest checksum matched; the content needs the key
      return;
    }
    ReportIndex(shown, ReasonOf(decoded), decoded);
  }

  void ReportIndex(const std::string& shown, const std::string& reason,
                   const absl::Status& status) {
    ++counts_.bad_indexes;
    const std::string message(status.message());
    std::printf("bad index %s: reason=%s: %s\n", shown.c_str(), reason.c_str(), message.c_str());
  }

  void ReportManifest(const SnapshotName& snapshot, const absl::Status& status) {
    ++counts_.bad_manifests;
    const std::string shown = ArchivePath(snapshot, kManifestFileName);
    const std::string message(status.message());
    std::printf("bad manifest %s: reason=%s: %s\n", shown.c_str(), ReasonOf(status).c_str(),
                message.c_str());
  }

  Upstream& upstream_;
  const CryptConfig* key_;
  absl::flat_hash_set<std::string> checked_;
  VerifyCounts counts_;
};

absl::Status RunDatastoreVerify(const VerifyOptions& options) {
  std::optional<SnapshotName> only;
  if (!options.snapshot.empty()) {
    absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(options.snapshot);
    if (!snapshot.ok()) return snapshot.status();
    only = std::move(*snapshot);
  }
  absl::StatusOr<std::optional<CryptConfig>> key = LoadKey(options.key);
  if (!key.ok()) return key.status();
  const CryptConfig* key_ptr = key->has_value() ? &**key : nullptr;

  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream =
      DatastoreUpstream::Open(options.path);
  if (!upstream.ok()) return upstream.status();
  std::vector<SnapshotName> snapshots;
  if (only.has_value()) {
    snapshots.push_back(*only);
  } else {
    absl::StatusOr<std::vector<SnapshotName>> all = (*upstream)->ListSnapshots();
    if (!all.ok()) return all.status();
    snapshots = std::move(*all);
  }

  DatastoreVerifier verifier(**upstream, key_ptr);
  for (const SnapshotName& snapshot : snapshots) verifier.VerifySnapshot(snapshot);

  const VerifyCounts& c = verifier.counts();
  std::printf("verified %" PRIu64 " snapshots, %" PRIu64 " archives, %" PRIu64
              " chunk references (%" PRIu64 " distinct chunks): %" PRIu64 " bad chunks, %" PRIu64
              " bad indexes, %" PRIu64 " bad manifests",
              c.snapshots, c.archives, c.chunk_references, c.distinct_chunks, c.bad_chunks,
              c.bad_indexes, c.bad_manifests);
  if (c.chunks_without_key > 0) {
    std::printf("; %" PRIu64 " encrypted chunks checked without key (digest not verified)",
                c.chunks_without_key);
  }
  std::printf("\n");
  if (c.problems() > 0) {
    return absl::DataLossError(absl::StrFormat(
        "verification failed: %d bad chunks, %d bad indexes, %d bad manifests in %s", c.bad_chunks,
        c.bad_indexes, c.bad_manifests, options.path));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterDatastoreVerifyCommand(CLI::App& datastore) {
  auto options = std::make_shared<VerifyOptions>();
  CLI::App* verify = datastore.add_subcommand(
      "verify", "Check every manifest, index and chunk of a snapshot or of the whole datastore");
  verify->add_option("--path", options->path, "Datastore directory")->required();
  verify->add_option("--snapshot", options->snapshot,
                     "Only this snapshot: [ns/NS/]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ");
  AddKeyOptions(verify, &options->key);
  SetCommandBody(verify, [options] { return RunDatastoreVerify(*options); });
}

}  // namespace chunkcache
