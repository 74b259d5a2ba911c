#include "format/snapshot_name.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

// Times from 1 (PBS's minimum backup-time) up to the last second of year 9999, the range
// whose RFC 3339 form has the fixed 20-character shape.
constexpr int64_t kMinBackupTime = 1;
constexpr int64_t kMaxBackupTime = 253402300799;  // 9999-12-31T23:59:59Z
constexpr size_t kMaxPrintedInput = 300;

std::string Quoted(std::string_view text) {
  return absl::StrCat("'", absl::CHexEscape(ToAbsl(text.substr(0, kMaxPrintedInput))),
                      text.size() > kMaxPrintedInput ? "…'" : "'");
}

// [A-Za-z0-9_][A-Za-z0-9._-]*: excludes "", ".", "..", separators and NUL.
bool IsSafeComponent(std::string_view s) {
  if (s.empty()) return false;
  auto is_first = [](char c) { return absl::ascii_isalnum(c) || c == '_'; };
  if (!is_first(s[0])) return false;
  for (char c : s) {
    if (!is_first(c) && c != '.' && c != '-') return false;
  }
  return true;
}

absl::Status CheckComponent(std::string_view what, std::string_view value) {
  if (IsSafeComponent(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", ToAbsl(what), " ", Quoted(value),
                   ": it must match [A-Za-z0-9_][A-Za-z0-9._-]* (no '/', no '..', not empty)"));
}

absl::Status CheckBackupType(std::string_view type) {
  if (type == "vm" || type == "ct" || type == "host") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid backup type ", Quoted(type), ": expected vm, ct or host"));
}

absl::Status CheckBackupTime(int64_t t) {
  if (t >= kMinBackupTime && t <= kMaxBackupTime) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("backup time ", t, " is out of range (",
                                                 kMinBackupTime, " to ", kMaxBackupTime, ")"));
}

absl::Status CheckNamespace(const std::vector<std::string>& components, size_t text_length) {
  if (components.size() > kMaxNamespaceDepth) {
    return absl::InvalidArgumentError(absl::StrCat("namespace has ", components.size(),
                                                   " levels, at most ", kMaxNamespaceDepth,
                                                   " are allowed"));
  }
  if (text_length > kMaxNamespaceLength) {
    return absl::InvalidArgumentError(absl::StrCat("namespace name is ", text_length,
                                                   " characters long, at most ",
                                                   kMaxNamespaceLength, " are allowed"));
  }
  for (const std::string& component : components) {
    if (absl::Status s = CheckComponent("namespace component", component); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

int Number(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

std::string FormatBackupTime(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

absl::StatusOr<int64_t> ParseBackupTime(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid backup time ", Quoted(text), ": ",
                                                   ToAbsl(why),
                                                   " (expected YYYY-MM-DDTHH:MM:SSZ)"));
  };
  // Fixed shape: positions of the separators and of the digit fields.
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return bad("wrong format");
  }
  std::string_view year = text.substr(0, 4), month = text.substr(5, 2), day = text.substr(8, 2),
                   hour = text.substr(11, 2), minute = text.substr(14, 2),
                   second = text.substr(17, 2);
  for (std::string_view field : {year, month, day, hour, minute, second}) {
    if (!AllDigits(field)) return bad("wrong format");
  }
  absl::CivilSecond civil(Number(year), Number(month), Number(day), Number(hour), Number(minute),
                          Number(second));
  // CivilSecond normalizes out-of-range fields (Feb 30 → Mar 2); a change means invalid.
  if (civil.year() != Number(year) || civil.month() != Number(month) ||
      civil.day() != Number(day) || civil.hour() != Number(hour) ||
      civil.minute() != Number(minute) || civil.second() != Number(second)) {
    return bad("no such date or time");
  }
  int64_t seconds = absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  if (absl::Status s = CheckBackupTime(seconds); !s.ok()) return bad("before 1970-01-01T00:00:01Z");
  return seconds;
}

absl::StatusOr<std::vector<std::string>> ParseNamespaceName(std::string_view name) {
  if (name.empty()) return std::vector<std::string>();
  if (name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("namespace name contains a NUL byte");
  }
  std::vector<std::string> components = absl::StrSplit(ToAbsl(name), '/');
  if (absl::Status s = CheckNamespace(components, name.size()); !s.ok()) return s;
  return components;
}

absl::Status ValidateArchiveName(std::string_view name) {
  if (absl::Status s = CheckComponent("archive name", name); !s.ok()) return s;
  if (!absl::EndsWith(ToAbsl(name), ".fidx") && !absl::EndsWith(ToAbsl(name), ".didx") &&
      !absl::EndsWith(ToAbsl(name), ".blob")) {
    return absl::InvalidArgumentError(absl::StrCat("invalid archive name ", Quoted(name),
                                                   ": it must end in .fidx, .didx or .blob"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotName> SnapshotName::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid snapshot ", Quoted(text), ": ", ToAbsl(why),
                     " (expected [ns/NS/]…TYPE/ID/YYYY-MM-DDTHH:MM:SSZ)"));
  };
  if (text.empty()) return bad("it is empty");
  if (text.find('\0') != std::string_view::npos) return bad("it contains a NUL byte");
  if (text.front() == '/') return bad("it is an absolute path");
  std::vector<std::string_view> parts;
  for (absl::string_view part : absl::StrSplit(ToAbsl(text), '/')) parts.push_back(ToStd(part));
  for (std::string_view part : parts) {
    if (part.empty()) return bad("it has an empty path component");
    if (part == "." || part == "..") return bad("it contains '.' or '..'");
  }
  SnapshotName name;
  size_t i = 0;
  std::vector<std::string_view> ns_parts;
  while (parts.size() - i > 3) {
    if (parts[i] != "ns")
      return bad(absl::StrCat("expected 'ns' or the backup type, got ", Quoted(parts[i])));
    ns_parts.push_back(parts[i + 1]);
    i += 2;
  }
  if (parts.size() - i != 3) return bad("expected TYPE/ID/TIME after the namespace");
  name.namespace_components.assign(ns_parts.begin(), ns_parts.end());
  if (absl::Status s = CheckNamespace(name.namespace_components, name.NamespaceName().size());
      !s.ok()) {
    return bad(ToStd(s.message()));
  }
  name.backup_type = std::string(parts[i]);
  name.backup_id = std::string(parts[i + 1]);
  if (absl::Status s = CheckBackupType(name.backup_type); !s.ok()) return bad(ToStd(s.message()));
  if (absl::Status s = CheckComponent("backup id", name.backup_id); !s.ok()) {
    return bad(ToStd(s.message()));
  }
  absl::StatusOr<int64_t> time = ParseBackupTime(parts[i + 2]);
  if (!time.ok()) return bad(ToStd(time.status().message()));
  name.backup_time = *time;
  return name;
}

absl::StatusOr<SnapshotName> SnapshotName::FromFields(std::string_view namespace_name,
                                                      std::string_view backup_type,
                                                      std::string_view backup_id,
                                                      int64_t backup_time) {
  absl::StatusOr<std::vector<std::string>> ns = ParseNamespaceName(namespace_name);
  if (!ns.ok()) return ns.status();
  if (absl::Status s = CheckBackupType(backup_type); !s.ok()) return s;
  if (absl::Status s = CheckComponent("backup id", backup_id); !s.ok()) return s;
  if (absl::Status s = CheckBackupTime(backup_time); !s.ok()) return s;
  SnapshotName name;
  name.namespace_components = *std::move(ns);
  name.backup_type = std::string(backup_type);
  name.backup_id = std::string(backup_id);
  name.backup_time = backup_time;
  return name;
}

std::string SnapshotName::NamespaceName() const { return absl::StrJoin(namespace_components, "/"); }

std::string SnapshotName::TimeText() const { return FormatBackupTime(backup_time); }

std::string SnapshotName::GroupDir() const {
  std::string dir;
  for (const std::string& component : namespace_components) {
    absl::StrAppend(&dir, "ns/", component, "/");
  }
  absl::StrAppend(&dir, backup_type, "/", backup_id);
  return dir;
}

std::string SnapshotName::RelativeDir() const { return absl::StrCat(GroupDir(), "/", TimeText()); }

}  // namespace chunkcache
