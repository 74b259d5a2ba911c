// ChunkIndex: a parsed fixed (.fidx, spec §2) or dynamic (.didx, spec §3) index.
//
//   absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(file_bytes);
//   if (auto loc = index->Locate(offset)) { ... index->digest(loc->entry) ... }
//
// Parsing checks the magic, the file size against the entry count, the stored index
// checksum against SHA-256(file[4096:]), a power-of-two chunk size (fixed) and strictly
// increasing end offsets (dynamic). Errors are DATA_LOSS with a message naming the check that
// failed (and both values where there are two).
#ifndef CHUNKCACHE_FORMAT_CHUNK_INDEX_H_
#define CHUNKCACHE_FORMAT_CHUNK_INDEX_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "format/digest.h"

namespace chunkcache {

inline constexpr size_t kIndexHeaderSize = 4096;
inline constexpr uint64_t kFixedChunkSize = 4 * 1024 * 1024;  // what PBS writes for images

enum class IndexKind { kFixed, kDynamic };

// The index kind an archive name implies: ".fidx" fixed, ".didx" dynamic; INVALID_ARGUMENT
// for anything else (e.g. ".blob").
absl::StatusOr<IndexKind> IndexKindOfArchive(std::string_view archive_name);

struct ChunkRange {
  uint64_t begin = 0;  // archive offset of the chunk's first byte
  uint64_t end = 0;    // exclusive
  uint64_t size() const { return end - begin; }
};

struct ChunkLocation {
  size_t entry = 0;          // index entry holding `offset`
  uint64_t offset_in_chunk = 0;
};

class ChunkIndex {
 public:
  // Parses either kind, chosen by magic.
  static absl::StatusOr<ChunkIndex> Parse(std::string_view file_bytes);

  IndexKind kind() const { return kind_; }
  uint64_t size() const { return size_; }              // logical archive size
  uint64_t chunk_size() const { return chunk_size_; }  // fixed: chunk size; dynamic: 0
  size_t chunk_count() const { return digests_.size(); }
  const std::array<uint8_t, 16>& uuid() const { return uuid_; }
  int64_t ctime() const { return ctime_; }
  // SHA-256(file[4096:]), verified against the header at parse time.
  const ChunkDigest& index_csum() const { return index_csum_; }

  const ChunkDigest& digest(size_t entry) const { return digests_[entry]; }
  const std::vector<ChunkDigest>& digests() const { return digests_; }
  ChunkRange range(size_t entry) const;  // the last fixed chunk may be short

  // The entry holding `offset`; nullopt at or past the end (including an empty index).
  std::optional<ChunkLocation> Locate(uint64_t offset) const;

  // Distinct digests in the index.
  size_t DistinctChunkCount() const;

 private:
  IndexKind kind_ = IndexKind::kFixed;
  uint64_t size_ = 0;
  uint64_t chunk_size_ = 0;
  std::array<uint8_t, 16> uuid_{};
  int64_t ctime_ = 0;
  ChunkDigest index_csum_;
  std::vector<ChunkDigest> digests_;
  std::vector<uint64_t> ends_;  // dynamic only: exclusive end offset of each entry
};

// Writers. `uuid` and `ctime` go into the header verbatim.
struct IndexHeaderFields {
  std::array<uint8_t, 16> uuid{};
  int64_t ctime = 0;
};
// `digests.size()` must equal ceil(size / chunk_size); chunk_size a power of two.
absl::StatusOr<std::string> EncodeFixedIndex(uint64_t size, uint64_t chunk_size,
                                             const std::vector<ChunkDigest>& digests,
                                             const IndexHeaderFields& header);
struct DynamicEntry {
  uint64_t end = 0;  // exclusive, cumulative
  ChunkDigest digest;
};
// `entries` must have strictly increasing ends.
absl::StatusOr<std::string> EncodeDynamicIndex(const std::vector<DynamicEntry>& entries,
                                               const IndexHeaderFields& header);

// A random v4-style UUID for a new index.
std::array<uint8_t, 16> NewIndexUuid();

// The `max` most-referenced digests of `index`, in descending reference count (ties in
// order of first appearance). Digests referenced only once are never included. Unlike
// upstream's find_most_used_chunks, which keeps the least-referenced repeats.
struct DigestCount {
  ChunkDigest digest;
  size_t count = 0;
  uint64_t size = 0;  // decoded size of the chunk (from its first occurrence's range)
};
std::vector<DigestCount> MostReferencedDigests(const ChunkIndex& index, size_t max);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_CHUNK_INDEX_H_
