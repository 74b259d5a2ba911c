// Parsers of the NBD handshake as the client sends it: its flags, option headers and the
// payloads of NBD_OPT_GO/INFO and NBD_OPT_{LIST,SET}_META_CONTEXT, and the matching of
// meta context queries. Pure functions over bytes (fuzzed by fuzz/nbd_parser_fuzzer.cc);
// the connection does the I/O.
//
//   absl::StatusOr<OptionHeader> header = ParseOptionHeader(sixteen_bytes);  // bad magic: drop
//   absl::StatusOr<InfoRequest> go = ParseInfoRequest(payload);   // INVALID_ARGUMENT: ERR_INVALID
//   bool base_allocation = MatchesBaseAllocation(queries, /*listing=*/false);
#ifndef CHUNKCACHE_NBD_OPTION_PARSER_H_
#define CHUNKCACHE_NBD_OPTION_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace chunkcache::nbd {

inline constexpr size_t kOptionHeaderSize = 16;

// The client flags after the server's greeting; INVALID_ARGUMENT for a flag the server did
// not offer (the spec says: drop the connection).
absl::StatusOr<uint32_t> ParseClientFlags(std::string_view four_bytes);

struct OptionHeader {
  uint32_t option = 0;
  uint32_t length = 0;  // payload bytes that follow
};
// INVALID_ARGUMENT unless `bytes` is 16 bytes starting with "IHAVEOPT".
absl::StatusOr<OptionHeader> ParseOptionHeader(std::string_view bytes);

// NBD_OPT_GO and NBD_OPT_INFO.
struct InfoRequest {
  std::string name;
  std::vector<uint16_t> info_types;
};
absl::StatusOr<InfoRequest> ParseInfoRequest(std::string_view payload);

// NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT.
struct MetaContextRequest {
  std::string name;
  std::vector<std::string> queries;
};
absl::StatusOr<MetaContextRequest> ParseMetaContextRequest(std::string_view payload);

// Whether `queries` select base:allocation. Listing, no query at all or the namespace "base:"
// selects every context of the namespace; setting needs the full name.
bool MatchesBaseAllocation(const std::vector<std::string>& queries, bool listing);

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_OPTION_PARSER_H_
