// Fuzzes fixed/dynamic index parsing and every accessor of a parsed index.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/chunk_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  absl::StatusOr<ChunkIndex> index =
      ChunkIndex::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!index.ok()) return 0;

  uint64_t covered = 0;
  for (size_t i = 0; i < index->chunk_count(); ++i) {
    ChunkRange range = index->range(i);
    if (range.begin != covered || range.end < range.begin) __builtin_trap();
    covered = range.end;
    std::optional<ChunkLocation> loc = index->Locate(range.begin);
    if (range.size() > 0 && (!loc || loc->entry != i || loc->offset_in_chunk != 0)) {
      __builtin_trap();
    }
  }
  if (covered != index->size()) __builtin_trap();
  if (index->Locate(index->size()).has_value()) __builtin_trap();
  (void)index->DistinctChunkCount();
  std::vector<DigestCount> top = MostReferencedDigests(*index, 8);
  for (size_t i = 1; i < top.size(); ++i) {
    if (top[i].count > top[i - 1].count) __builtin_trap();
  }

  // Re-encoding a parsed index gives back the same bytes (after the header fields).
  IndexHeaderFields header{index->uuid(), index->ctime()};
  absl::StatusOr<std::string> again;
  if (index->kind() == IndexKind::kFixed) {
    again = EncodeFixedIndex(index->size(), index->chunk_size(), index->digests(), header);
  } else {
    std::vector<DynamicEntry> entries;
    for (size_t i = 0; i < index->chunk_count(); ++i) {
      entries.push_back({index->range(i).end, index->digest(i)});
    }
    again = EncodeDynamicIndex(entries, header);
  }
  if (!again.ok() || again->size() != size ||
      std::string_view(*again).substr(kIndexHeaderSize) !=
          std::string_view(reinterpret_cast<const char*>(data) + kIndexHeaderSize,
                           size - kIndexHeaderSize)) {
    __builtin_trap();
  }
  return 0;
}
