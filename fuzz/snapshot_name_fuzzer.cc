// Fuzzes snapshot/namespace/archive name validation: whatever parses must format back to the
// same text and never contain a path that leaves its directory.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/snapshot_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)ValidateArchiveName(input);
  (void)ParseNamespaceName(input);
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(input);
  if (!name.ok()) return 0;
  std::string dir = name->RelativeDir();
  if (dir != input || dir.front() == '/') __builtin_trap();
  for (size_t begin = 0; begin <= dir.size();) {
    size_t end = std::min(dir.find('/', begin), dir.size());
    std::string_view component = std::string_view(dir).substr(begin, end - begin);
    if (component.empty() || component == "." || component == "..") __builtin_trap();
    begin = end + 1;
  }
  absl::StatusOr<SnapshotName> again = SnapshotName::FromFields(
      name->NamespaceName(), name->backup_type, name->backup_id, name->backup_time);
  if (!again.ok() || !(*again == *name)) __builtin_trap();
  return 0;
}
