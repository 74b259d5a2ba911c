// MemoryUpstream: an upstream held entirely in memory, for tests, benchmarks and the trace
// simulator. It counts ReadChunk calls per digest, so a test can prove that a chunk was
// fetched exactly once.
//
//   MemoryUpstream upstream;
//   absl::StatusOr<ChunkDigest> digest = upstream.AddChunkData(plaintext);   // encodes a blob
//   upstream.AddChunk(other_digest, raw_blob_bytes);                         // stores as is
//   upstream.AddSnapshotFile(snapshot, "index.json.blob", manifest_blob);
//   ...
//   EXPECT_EQ(upstream.ChunkReadCount(*digest), 1);
//
// It follows the datastore's rules: names are validated the same way (INVALID_ARGUMENT), and
// ListSnapshots reports only snapshots that have an "index.json.blob". Thread-safe; bytes are
// copied out of shared immutable buffers, so concurrent reads do not serialize on a copy.
#ifndef CHUNKCACHE_UPSTREAM_MEMORY_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_MEMORY_UPSTREAM_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/crypt_config.h"
#include "upstream/upstream.h"

namespace chunkcache {

class MemoryUpstream final : public Upstream {
 public:
  explicit MemoryUpstream(std::string description = "memory");

  // Stores `blob` (raw DataBlob bytes, not checked) as the chunk `digest`, replacing any.
  void AddChunk(const ChunkDigest& digest, std::string blob);
  // Encodes `data` as a chunk blob (compressed; encrypted when `key` is set), stores it under
  // its digest and returns the digest.
  absl::StatusOr<ChunkDigest> AddChunkData(std::string_view data, const CryptConfig* key = nullptr);
  // Removes a chunk (as garbage collection would); false if it was not there.
  bool RemoveChunk(const ChunkDigest& digest);
  // Stores a file of a snapshot directory. INVALID_ARGUMENT for a bad snapshot or file name.
  absl::Status AddSnapshotFile(const SnapshotName& snapshot, std::string_view file_name,
                               std::string bytes);

  // ReadChunk calls for `digest` so far, successful or not.
  size_t ChunkReadCount(const ChunkDigest& digest) const;
  // ReadChunk calls for any digest so far.
  size_t TotalChunkReads() const;
  void ResetReadCounts();
  size_t chunk_count() const;

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override;
  // Returns the stored blob, whatever `options` say.
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override;
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override;
  absl::Status CheckReadable() override { return absl::OkStatus(); }
  std::string Describe() const override { return description_; }

 private:
  using SharedBytes = std::shared_ptr<const std::string>;
  struct StoredSnapshot {
    SnapshotName name;
    std::map<std::string, SharedBytes, std::less<>> files;
  };

  const std::string description_;
  // std::mutex rather than absl::Mutex: the distribution's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex's ordering.
  mutable std::mutex mu_;
  absl::flat_hash_map<ChunkDigest, SharedBytes> chunks_ ABSL_GUARDED_BY(mu_);
  // Keyed by the snapshot's relative directory.
  std::map<std::string, StoredSnapshot, std::less<>> snapshots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ChunkDigest, size_t> read_counts_ ABSL_GUARDED_BY(mu_);
  size_t total_reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_MEMORY_UPSTREAM_H_
