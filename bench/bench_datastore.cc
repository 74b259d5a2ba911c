// bench_datastore: writes a PBS datastore snapshot with one fixed-index image archive of
// distinct pseudo-random chunks of any power-of-two size, for the service benchmarks
// (bench/restore_bench.sh, bench/scan_resistance.sh, bench/server_rss.sh). PBS itself writes
// 4 MiB chunks for images; smaller chunks let a benchmark put many chunks into the
// bandwidth-delay product of a throttled upstream without a CPU-bound bandwidth.
//
//   bench_datastore --path /var/tmp/store --snapshot vm/100/2024-01-01T00:00:00Z
//       --archive drive-scsi0.img.fidx --size 536870912 --chunk-size 262144 [--seed 1] [--zero]
//
// Chunk i holds 8-byte words of a 64-bit mix of (seed, i, word): incompressible and distinct
// across archives with different seeds. --zero writes zero chunks with i in the first 8 bytes
// instead (distinct, tiny on disk), for filling large caches cheaply.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/manifest.h"
#include "format/snapshot_name.h"
#include "upstream/datastore_paths.h"
#include "upstream/datastore_writer.h"

namespace chunkcache {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void FillChunk(uint64_t seed, uint64_t chunk, bool zero, std::string& data) {
  if (zero) {
    std::memset(data.data(), 0, data.size());
    std::memcpy(data.data(), &chunk, std::min(sizeof(chunk), data.size()));
    std::memcpy(data.data() + 8, &seed, std::min(sizeof(seed), data.size() - 8));
    return;
  }
  const uint64_t base = Mix(seed * 0x100000001b3ULL + chunk);
  for (size_t word = 0; word * 8 < data.size(); ++word) {
    const uint64_t value = Mix(base + word);
    std::memcpy(data.data() + word * 8, &value, std::min<size_t>(8, data.size() - word * 8));
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"bench_datastore: a snapshot with a fixed-index archive of distinct chunks"};
  std::string path, snapshot_text, archive;
  uint64_t size = 0, chunk_size = 4 << 20, seed = 1;
  bool zero = false;
  app.add_option("--path", path, "datastore directory (created if missing)")->required();
  app.add_option("--snapshot", snapshot_text, "TYPE/ID/YYYY-MM-DDTHH:MM:SSZ")->required();
  app.add_option("--archive", archive, "NAME.img.fidx")->required();
  app.add_option("--size", size, "archive size in bytes")->required();
  app.add_option("--chunk-size", chunk_size, "chunk size in bytes (a power of two)");
  app.add_option("--seed", seed, "content seed (distinct seeds: distinct chunks)");
  app.add_flag("--zero", zero, "zero chunks with their number in the first bytes");
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(snapshot_text);
  if (!snapshot.ok()) {
    std::fprintf(stderr, "%s\n", std::string(snapshot.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<DatastoreWriter>> writer = DatastoreWriter::Create(path);
  if (!writer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(writer.status().message()).c_str());
    return 1;
  }
  std::vector<ChunkDigest> digests;
  std::string data(chunk_size, '\0');
  uint64_t stored_bytes = 0;
  for (uint64_t offset = 0, i = 0; offset < size; offset += chunk_size, ++i) {
    data.resize(std::min(chunk_size, size - offset));
    FillChunk(seed, i, zero, data);
    const ChunkDigest digest = ChunkDigestOf(data, nullptr);
    absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = true});
    if (!blob.ok()) return 1;
    absl::StatusOr<bool> written = (*writer)->WriteChunk(digest, *blob);
    if (!written.ok()) {
      std::fprintf(stderr, "%s\n", std::string(written.status().message()).c_str());
      return 1;
    }
    stored_bytes += blob->size();
    digests.push_back(digest);
  }
  IndexHeaderFields header;
  header.uuid = NewIndexUuid();
  header.ctime = snapshot->backup_time;
  absl::StatusOr<std::string> index = EncodeFixedIndex(size, chunk_size, digests, header);
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", std::string(index.status().message()).c_str());
    return 1;
  }
  ManifestFile file;
  file.filename = archive;
  file.crypt_mode = CryptMode::kNone;
  file.size = size;
  file.csum = Sha256(std::string_view(*index).substr(kIndexHeaderSize));
  ManifestContent content{.backup_type = snapshot->backup_type,
                          .backup_id = snapshot->backup_id,
                          .backup_time = snapshot->backup_time,
                          .files = {file}};
  absl::StatusOr<std::string> manifest =
      EncodeBlob(EncodeManifestJson(content, nullptr), {.compress = true});
  if (!manifest.ok()) return 1;
  for (absl::Status status :
       {(*writer)->WriteSnapshotFile(*snapshot, archive, *index),
        (*writer)->EnsureGroupOwner(*snapshot, kDefaultOwner),
        (*writer)->WriteSnapshotFile(*snapshot, kManifestFileName, *manifest), (*writer)->Sync()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
      return 1;
    }
  }
  std::printf(
      "created %s/%s: size=%" PRIu64 " chunk_size=%" PRIu64 " chunks=%zu blob_bytes=%" PRIu64 "\n",
      snapshot_text.c_str(), archive.c_str(), size, chunk_size, digests.size(), stored_bytes);
  return 0;
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) { return chunkcache::Run(argc, argv); }
