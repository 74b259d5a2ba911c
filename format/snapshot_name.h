// Snapshot and archive names as PBS allows them (spec §4.2), and their relative paths.
// Names come from clients; a name that does not match these shapes is INVALID_ARGUMENT and
// is never turned into a path, so nothing outside a datastore can ever be opened.
//
//   absl::StatusOr<SnapshotName> s = SnapshotName::Parse("ns/enc/vm/100/2026-01-02T00:00:00Z");
//   s->RelativeDir();   // "ns/enc/vm/100/2026-01-02T00:00:00Z"
#ifndef CHUNKCACHE_FORMAT_SNAPSHOT_NAME_H_
#define CHUNKCACHE_FORMAT_SNAPSHOT_NAME_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chunkcache {

inline constexpr size_t kMaxNamespaceDepth = 7;
inline constexpr size_t kMaxNamespaceLength = 256;

struct SnapshotName {
  std::vector<std::string> namespace_components;  // empty = root namespace
  std::string backup_type;                        // "vm" | "ct" | "host"
  std::string backup_id;
  int64_t backup_time = 0;                        // unix seconds

  // From PBS's textual form `[ns/NS/]…TYPE/ID/YYYY-MM-DDTHH:MM:SSZ`.
  static absl::StatusOr<SnapshotName> Parse(std::string_view text);
  // From API fields; `namespace_name` is "" or "a/b".
  static absl::StatusOr<SnapshotName> FromFields(std::string_view namespace_name,
                                                 std::string_view backup_type,
                                                 std::string_view backup_id, int64_t backup_time);

  std::string NamespaceName() const;  // "a/b", "" for root
  std::string TimeText() const;       // "2026-01-01T00:00:00Z"
  std::string RelativeDir() const;    // "ns/a/ns/b/vm/100/2026-01-01T00:00:00Z"
  std::string GroupDir() const;       // "ns/a/ns/b/vm/100"
  std::string ToString() const { return RelativeDir(); }

  friend bool operator==(const SnapshotName&, const SnapshotName&) = default;
};

// A namespace name "a/b": at most 7 components matching [A-Za-z0-9_][A-Za-z0-9._-]*, 256
// characters in all.
absl::StatusOr<std::vector<std::string>> ParseNamespaceName(std::string_view name);

// An archive file name: one path component of [A-Za-z0-9_][A-Za-z0-9._-]* ending in .fidx,
// .didx or .blob (no "/", no "..", not empty).
absl::Status ValidateArchiveName(std::string_view name);

// RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" <-> unix seconds.
std::string FormatBackupTime(int64_t unix_seconds);
absl::StatusOr<int64_t> ParseBackupTime(std::string_view text);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_SNAPSHOT_NAME_H_
