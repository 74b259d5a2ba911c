// Fuzzes the NBD server's parsers of client bytes: client flags, option headers and the
// payloads of NBD_OPT_GO/INFO and the meta context options, request headers and their checks,
// and export names. Nothing may crash; a parsed export name must format back to its input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "nbd/export_name.h"
#include "nbd/option_parser.h"
#include "nbd/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache::nbd;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)ParseClientFlags(input.substr(0, 4));
  (void)ParseOptionHeader(input.substr(0, kOptionHeaderSize));
  (void)ParseInfoRequest(input);
  if (absl::StatusOr<MetaContextRequest> meta = ParseMetaContextRequest(input); meta.ok()) {
    (void)MatchesBaseAllocation(meta->queries, /*listing=*/true);
    (void)MatchesBaseAllocation(meta->queries, /*listing=*/false);
  }
  if (absl::StatusOr<Request> request = ParseRequestHeader(input.substr(0, 28)); request.ok()) {
    const RequestLimits limits{.export_size = 1 << 30, .max_block_size = 4 << 20,
                               .structured_replies = (size & 1) != 0, .base_allocation = true};
    (void)CheckRequest(*request, limits);
  }
  if (absl::StatusOr<ExportName> name = ParseExportName(input); name.ok()) {
    if (FormatExportName(name->datastore, name->snapshot, name->archive) != input) {
      __builtin_trap();
    }
  }
  return 0;
}
