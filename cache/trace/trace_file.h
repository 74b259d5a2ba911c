// Loading a block trace file in either supported format.
//
//   absl::StatusOr<TraceFormat> format = TraceFormatForPath(path, "");  // by extension
//   absl::StatusOr<std::vector<BlockRequest>> requests = ReadBlockTraceFile(path, *format);
#ifndef CHUNKCACHE_CACHE_TRACE_TRACE_FILE_H_
#define CHUNKCACHE_CACHE_TRACE_TRACE_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/trace/block_request.h"

namespace chunkcache {

enum class TraceFormat { kVscsi, kCsv };

// `format_name` "vscsi" or "csv"; empty means "from the extension" (.vscsi, .csv).
absl::StatusOr<TraceFormat> TraceFormatForPath(std::string_view path, std::string_view format_name);

// NOT_FOUND / PERMISSION_DENIED when the file cannot be read; INVALID_ARGUMENT (with the path)
// when its content is malformed.
absl::StatusOr<std::vector<BlockRequest>> ReadBlockTraceFile(const std::string& path,
                                                             TraceFormat format);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_TRACE_FILE_H_
