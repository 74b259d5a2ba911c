#include "client/cli/snapshot_info_format.h"

#include "absl/strings/str_format.h"
#include "client/cli/byte_size.h"
#include "nlohmann/json.hpp"

namespace chunkcache {
namespace {

std::string WithUnit(uint64_t bytes) {
  if (bytes < 1024) return absl::StrFormat("%d", bytes);
  return absl::StrFormat("%d (%s)", bytes, FormatBytes(bytes));
}

}  // namespace

std::string FormatSnapshotInfoText(const v1::SnapshotInfo& info) {
  std::string text;
  absl::StrAppendFormat(&text, "%-16s %s\n", "size", WithUnit(info.size()));
  absl::StrAppendFormat(&text, "%-16s %s\n", "chunk_size",
                        info.chunk_size() == 0 ? "0 (dynamic index)" : WithUnit(info.chunk_size()));
  absl::StrAppendFormat(&text, "%-16s %d\n", "chunk_count", info.chunk_count());
  absl::StrAppendFormat(&text, "%-16s %d\n", "distinct_chunks", info.distinct_chunks());
  absl::StrAppendFormat(&text, "%-16s %s\n", "crypt_mode", info.crypt_mode());
  absl::StrAppendFormat(&text, "%-16s %d\n", "hinted_chunks", info.hinted_chunks());
  absl::StrAppendFormat(&text, "%-16s %s\n", "cached_bytes", WithUnit(info.cached_bytes()));
  absl::StrAppendFormat(&text, "%-16s %s\n", "index_csum", info.index_csum());
  return text;
}

std::string FormatSnapshotInfoJson(const v1::SnapshotInfo& info) {
  // Ordered: the fields appear as in the proto.
  const nlohmann::ordered_json json = {
      {"size", info.size()},
      {"chunk_size", info.chunk_size()},
      {"chunk_count", info.chunk_count()},
      {"distinct_chunks", info.distinct_chunks()},
      {"crypt_mode", info.crypt_mode()},
      {"hinted_chunks", info.hinted_chunks()},
      {"cached_bytes", info.cached_bytes()},
      {"index_csum", info.index_csum()},
  };
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace chunkcache
