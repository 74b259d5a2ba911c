#include "cache/trace/trace_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cache/trace/csv_trace_reader.h"
#include "cache/trace/vscsi_reader.h"
#include "format/string_view_compat.h"

namespace chunkcache {

absl::StatusOr<TraceFormat> TraceFormatForPath(std::string_view path,
                                               std::string_view format_name) {
  const std::string name = absl::AsciiStrToLower(ToAbsl(format_name));
  if (name == "vscsi") return TraceFormat::kVscsi;
  if (name == "csv") return TraceFormat::kCsv;
  if (!name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown trace format '", ToAbsl(format_name), "'; use vscsi or csv"));
  }
  const std::string lower_path = absl::AsciiStrToLower(ToAbsl(path));
  if (absl::EndsWith(lower_path, ".vscsi")) return TraceFormat::kVscsi;
  if (absl::EndsWith(lower_path, ".csv")) return TraceFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot tell the format of '", ToAbsl(path),
      "' from its extension (.vscsi or .csv); pass the format (vscsi or csv) explicitly"));
}

absl::StatusOr<std::vector<BlockRequest>> ReadBlockTraceFile(const std::string& path,
                                                             TraceFormat format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message =
        absl::StrCat("cannot open trace file '", path, "': ", std::strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(message) : absl::NotFoundError(message);
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error reading '", path, "'"));
  const std::string bytes = std::move(content).str();
  absl::StatusOr<std::vector<BlockRequest>> requests =
      format == TraceFormat::kVscsi ? ParseVscsiTrace(bytes) : ParseCsvTrace(bytes);
  if (!requests.ok()) {
    return absl::Status(requests.status().code(),
                        absl::StrCat(path, ": ", requests.status().message()));
  }
  return requests;
}

}  // namespace chunkcache
