#include "cache/internal/hinted_set.h"

namespace chunkcache::internal {

std::vector<DigestCount> ChooseHintedSet(const std::vector<DigestCount>& most_referenced,
                                         size_t max_chunks, uint64_t max_bytes) {
  std::vector<DigestCount> chosen;
  uint64_t bytes = 0;
  for (const DigestCount& d : most_referenced) {
    if (chosen.size() >= max_chunks || d.count < 2 || d.size > max_bytes - bytes) break;
    bytes += d.size;
    chosen.push_back(d);
  }
  return chosen;
}

}  // namespace chunkcache::internal
