#include "upstream/memory_upstream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "format/blob.h"
#include "upstream/datastore_paths.h"

namespace chunkcache {

MemoryUpstream::MemoryUpstream(std::string description) : description_(std::move(description)) {}

void MemoryUpstream::AddChunk(const ChunkDigest& digest, std::string blob) {
  auto shared = std::make_shared<const std::string>(std::move(blob));
  std::lock_guard<std::mutex> lock(mu_);
  chunks_[digest] = std::move(shared);
}

absl::StatusOr<ChunkDigest> MemoryUpstream::AddChunkData(std::string_view data,
                                                         const CryptConfig* key) {
  absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = true, .key = key});
  if (!blob.ok()) return blob.status();
  ChunkDigest digest = ChunkDigestOf(data, key);
  AddChunk(digest, std::move(*blob));
  return digest;
}

bool MemoryUpstream::RemoveChunk(const ChunkDigest& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  return chunks_.erase(digest) > 0;
}

absl::Status MemoryUpstream::AddSnapshotFile(const SnapshotName& snapshot,
                                             std::string_view file_name, std::string bytes) {
  absl::Status name_ok = ValidateSnapshotFileName(file_name);
  if (!name_ok.ok()) return name_ok;
  absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot);
  if (!dir.ok()) return dir.status();
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  std::lock_guard<std::mutex> lock(mu_);
  StoredSnapshot& stored = snapshots_[absl::StrJoin(*dir, "/")];
  stored.name = snapshot;
  stored.files[std::string(file_name)] = std::move(shared);
  return absl::OkStatus();
}

size_t MemoryUpstream::ChunkReadCount(const ChunkDigest& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = read_counts_.find(digest);
  return it == read_counts_.end() ? 0 : it->second;
}

size_t MemoryUpstream::TotalChunkReads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_reads_;
}

void MemoryUpstream::ResetReadCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  read_counts_.clear();
  total_reads_ = 0;
}

size_t MemoryUpstream::chunk_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chunks_.size();
}

absl::StatusOr<std::string> MemoryUpstream::ReadSnapshotFile(const SnapshotName& snapshot,
                                                             std::string_view file_name) {
  absl::Status name_ok = ValidateSnapshotFileName(file_name);
  if (!name_ok.ok()) return name_ok;
  absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot);
  if (!dir.ok()) return dir.status();
  const std::string shown_dir = absl::StrJoin(*dir, "/");
  SharedBytes bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto snapshot_it = snapshots_.find(shown_dir);
    if (snapshot_it == snapshots_.end()) {
      return absl::NotFoundError(
          absl::StrFormat("snapshot %s not found in %s", shown_dir, description_));
    }
    auto file_it = snapshot_it->second.files.find(file_name);
    if (file_it == snapshot_it->second.files.end()) {
      return absl::NotFoundError(
          absl::StrFormat("file %s/%s not found in %s", shown_dir, file_name, description_));
    }
    bytes = file_it->second;
  }
  return *bytes;
}

absl::StatusOr<std::string> MemoryUpstream::ReadChunk(const ChunkDigest& digest,
                                                      const ChunkReadOptions& /*options*/) {
  SharedBytes bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++read_counts_[digest];
    ++total_reads_;
    auto it = chunks_.find(digest);
    if (it == chunks_.end()) {
      return absl::NotFoundError(
          absl::StrFormat("chunk %s not found in %s", ChunkRelativePath(digest), description_));
    }
    bytes = it->second;
  }
  return *bytes;
}

absl::StatusOr<std::vector<SnapshotName>> MemoryUpstream::ListSnapshots() {
  std::vector<SnapshotName> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [dir, stored] : snapshots_) {
      if (stored.files.contains(kManifestFileName)) names.push_back(stored.name);
    }
  }
  std::sort(names.begin(), names.end(), SnapshotNameLess);
  return names;
}

}  // namespace chunkcache
