#include "nbd/archive_layout.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace chunkcache::nbd {
namespace {

// Distinct chunk sizes of a dynamic index checked for zeros (each costs a hash of that many
// zero bytes).
constexpr size_t kMaxDynamicZeroSizes = 8;

}  // namespace

ArchiveLayout ArchiveLayout::Build(const ChunkIndex& index, const CryptConfig* key) {
  ArchiveLayout layout(&index);
  const size_t count = index.chunk_count();
  layout.zero_.assign(count, false);
  if (count == 0) return layout;

  std::vector<uint64_t> sizes;
  if (index.kind() == IndexKind::kFixed) {
    sizes.push_back(index.range(0).size());
    const uint64_t last = index.range(count - 1).size();
    if (last != sizes.front()) sizes.push_back(last);
  } else {
    absl::flat_hash_map<ChunkDigest, uint64_t> first_size;
    absl::flat_hash_set<uint64_t> repeated_sizes;
    for (size_t entry = 0; entry < count; ++entry) {
      auto [it, inserted] = first_size.try_emplace(index.digest(entry), index.range(entry).size());
      if (!inserted && repeated_sizes.size() < kMaxDynamicZeroSizes) {
        repeated_sizes.insert(it->second);
      }
    }
    sizes.assign(repeated_sizes.begin(), repeated_sizes.end());
  }

  absl::flat_hash_map<uint64_t, ChunkDigest> zero_digest;  // by chunk size
  for (uint64_t size : sizes) {
    zero_digest[size] = ChunkDigestOf(std::string(size, '\0'), key);
  }
  for (size_t entry = 0; entry < count; ++entry) {
    auto it = zero_digest.find(index.range(entry).size());
    if (it != zero_digest.end() && it->second == index.digest(entry)) {
      layout.zero_[entry] = true;
      ++layout.zero_chunks_;
    }
  }
  return layout;
}

std::vector<LayoutRun> ArchiveLayout::Runs(uint64_t offset, uint64_t length,
                                           size_t max_runs) const {
  std::vector<LayoutRun> runs;
  const uint64_t size = index_->size();
  const uint64_t end = offset >= size ? offset : offset + std::min(length, size - offset);
  std::optional<ChunkLocation> location = index_->Locate(offset);
  if (!location.has_value() || max_runs == 0) return runs;
  uint64_t position = offset;
  for (size_t entry = location->entry; entry < zero_.size() && position < end; ++entry) {
    const uint64_t entry_end = std::min(index_->range(entry).end, end);
    const bool zero = zero_[entry];
    if (!runs.empty() && runs.back().zero == zero) {
      runs.back().length += entry_end - position;
    } else {
      if (runs.size() == max_runs) break;
      runs.push_back({position, entry_end - position, zero});
    }
    position = entry_end;
  }
  return runs;
}

}  // namespace chunkcache::nbd
