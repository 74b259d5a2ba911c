#include "cache/trace/csv_trace_reader.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr absl::string_view kHeader = "version,time,op,size,lbn";
constexpr uint64_t kSectorBytes = 512;
constexpr uint64_t kMicrosPerSecond = 1000000;

absl::Status LineError(size_t line_number, absl::string_view line, absl::string_view what) {
  constexpr size_t kShown = 80;
  return absl::InvalidArgumentError(absl::StrCat("CSV trace line ", line_number, ": ", what,
                                                 " in \"", line.substr(0, kShown),
                                                 line.size() > kShown ? "..." : "", "\" (expected ",
                                                 kHeader, ", e.g. 1,5633898,2a,512,42932745)"));
}

}  // namespace

absl::StatusOr<std::vector<BlockRequest>> ParseCsvTrace(std::string_view text) {
  std::vector<BlockRequest> requests;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line_number == 1 && !absl::ascii_isdigit(static_cast<unsigned char>(line[0]))) {
      if (absl::AsciiStrToLower(line) != kHeader) {
        return LineError(line_number, line, "unknown header");
      }
      continue;
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() != 5) {
      return LineError(line_number, line,
                       absl::StrCat("expected 5 comma-separated fields, found ", fields.size()));
    }
    for (absl::string_view& field : fields) field = absl::StripAsciiWhitespace(field);
    uint64_t version = 0, seconds = 0, size = 0, lbn = 0;
    uint32_t opcode = 0;
    if (!absl::SimpleAtoi(fields[0], &version)) {
      return LineError(line_number, line, "version is not a number");
    }
    if (!absl::SimpleAtoi(fields[1], &seconds) ||
        seconds > std::numeric_limits<uint64_t>::max() / kMicrosPerSecond) {
      return LineError(line_number, line, "time is not a number of seconds");
    }
    if (!absl::SimpleHexAtoi(fields[2], &opcode)) {
      return LineError(line_number, line, "op is not a hex SCSI opcode");
    }
    if (!absl::SimpleAtoi(fields[3], &size)) {
      return LineError(line_number, line, "size is not a number of bytes");
    }
    if (!absl::SimpleAtoi(fields[4], &lbn) ||
        lbn > std::numeric_limits<uint64_t>::max() / kSectorBytes / 2) {
      return LineError(line_number, line, "lbn is not a sector number");
    }
    BlockRequest request;
    request.offset = lbn * kSectorBytes;
    request.length = size;
    request.op = BlockOpFromScsiOpcode(opcode);
    request.time_us = seconds * kMicrosPerSecond;
    requests.push_back(request);
  }
  return requests;
}

}  // namespace chunkcache
