#include "tests/cache/cache_test_util.h"

#include <utility>

#include "absl/time/clock.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/manifest.h"
#include "gtest/gtest.h"

namespace chunkcache::testing {

ChunkCacheOptions SmallCacheOptions(const std::filesystem::path& dir, uint64_t capacity) {
  ChunkCacheOptions options;
  options.cache_dir = dir;
  options.capacity_bytes = capacity;
  options.policy = "lru";
  options.max_concurrent_fetches = 4;
  options.max_queued_fetches = 256;
  options.max_queued_prefetches = 64;
  return options;
}

std::unique_ptr<ChunkCache> OpenCache(const ChunkCacheOptions& options) {
  absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(options);
  EXPECT_TRUE(cache.ok()) << cache.status();
  return cache.ok() ? *std::move(cache) : nullptr;
}

std::shared_ptr<const ChunkSource> MakeSource(std::shared_ptr<Upstream> upstream,
                                              std::string datastore,
                                              std::shared_ptr<const CryptConfig> key,
                                              CryptMode mode) {
  return std::make_shared<const ChunkSource>(
      ChunkSource{std::move(datastore), std::move(upstream), std::move(key), mode});
}

ChunkDigest AddChunk(MemoryUpstream& upstream, std::string_view data, const CryptConfig* key) {
  absl::StatusOr<ChunkDigest> digest = upstream.AddChunkData(data, key);
  EXPECT_TRUE(digest.ok()) << digest.status();
  return digest.ok() ? *digest : ChunkDigest{};
}

std::shared_ptr<const CryptConfig> TestKey() {
  RawKey raw;
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i);
  return std::make_shared<const CryptConfig>(CryptConfig::FromRawKey(raw));
}

SnapshotName TestSnapshot(int64_t backup_time, std::string backup_id) {
  SnapshotName name;
  name.backup_type = "vm";
  name.backup_id = std::move(backup_id);
  name.backup_time = backup_time;
  return name;
}

namespace {

absl::Status AddManifest(MemoryUpstream& upstream, const SnapshotName& snapshot,
                         std::string_view archive, const ChunkIndex& index,
                         const CryptConfig* key) {
  ManifestContent content;
  content.backup_type = snapshot.backup_type;
  content.backup_id = snapshot.backup_id;
  content.backup_time = snapshot.backup_time;
  content.files.push_back(ManifestFile{std::string(archive),
                                       key != nullptr ? CryptMode::kEncrypt : CryptMode::kNone,
                                       index.size(), index.index_csum()});
  absl::StatusOr<std::string> blob =
      EncodeBlob(EncodeManifestJson(content, key), BlobEncodeOptions{});
  if (!blob.ok()) return blob.status();
  return upstream.AddSnapshotFile(snapshot, "index.json.blob", *std::move(blob));
}

absl::StatusOr<BuiltSnapshot> Finish(MemoryUpstream& upstream, const SnapshotName& snapshot,
                                     std::string_view archive, std::vector<ChunkDigest> digests,
                                     absl::StatusOr<std::string> index_bytes,
                                     const CryptConfig* key) {
  if (!index_bytes.ok()) return index_bytes.status();
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*index_bytes);
  if (!index.ok()) return index.status();
  if (absl::Status s = upstream.AddSnapshotFile(snapshot, archive, *index_bytes); !s.ok()) return s;
  if (absl::Status s = AddManifest(upstream, snapshot, archive, *index, key); !s.ok()) return s;
  return BuiltSnapshot{snapshot, std::string(archive), std::move(digests), *std::move(index_bytes)};
}

}  // namespace

absl::StatusOr<BuiltSnapshot> AddFixedSnapshot(MemoryUpstream& upstream,
                                               const SnapshotName& snapshot,
                                               std::string_view archive, std::string_view image,
                                               uint64_t chunk_size, const CryptConfig* key) {
  std::vector<ChunkDigest> digests;
  for (uint64_t pos = 0; pos < image.size(); pos += chunk_size) {
    absl::StatusOr<ChunkDigest> digest = upstream.AddChunkData(image.substr(pos, chunk_size), key);
    if (!digest.ok()) return digest.status();
    digests.push_back(*digest);
  }
  absl::StatusOr<std::string> index =
      EncodeFixedIndex(image.size(), chunk_size, digests, IndexHeaderFields{});
  return Finish(upstream, snapshot, archive, std::move(digests), std::move(index), key);
}

absl::StatusOr<BuiltSnapshot> AddDynamicSnapshot(MemoryUpstream& upstream,
                                                 const SnapshotName& snapshot,
                                                 std::string_view archive,
                                                 const std::vector<std::string>& chunks,
                                                 const CryptConfig* key) {
  std::vector<ChunkDigest> digests;
  std::vector<DynamicEntry> entries;
  uint64_t end = 0;
  for (const std::string& chunk : chunks) {
    absl::StatusOr<ChunkDigest> digest = upstream.AddChunkData(chunk, key);
    if (!digest.ok()) return digest.status();
    digests.push_back(*digest);
    end += chunk.size();
    entries.push_back(DynamicEntry{end, *digest});
  }
  absl::StatusOr<std::string> index = EncodeDynamicIndex(entries, IndexHeaderFields{});
  return Finish(upstream, snapshot, archive, std::move(digests), std::move(index), key);
}

absl::Status AddDynamicIndex(MemoryUpstream& upstream, const SnapshotName& snapshot,
                             std::string_view archive, const std::vector<DynamicEntry>& entries) {
  absl::StatusOr<BuiltSnapshot> built = Finish(
      upstream, snapshot, archive, {}, EncodeDynamicIndex(entries, IndexHeaderFields{}), nullptr);
  return built.status();
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

}  // namespace chunkcache::testing
