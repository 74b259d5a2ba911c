// Parser of NBD transmission requests and the checks each one must pass before it is
// served: its 28-byte header, then CheckRequest, which names the errno the reply carries
// (writes EPERM on a read-only export, ranges past the end EINVAL, ...). Pure functions
// (fuzzed by fuzz/nbd_parser_fuzzer.cc); the connection does the I/O.
//
//   absl::StatusOr<Request> request = ParseRequestHeader(header_bytes);  // bad magic: drop
//   if (uint32_t error = CheckRequest(*request, limits); error != 0) ReplyError(error);
#ifndef CHUNKCACHE_NBD_REQUEST_PARSER_H_
#define CHUNKCACHE_NBD_REQUEST_PARSER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache::nbd {

struct Request {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t cookie = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  // Bytes of payload that follow the header (NBD_CMD_WRITE only); the server must consume
  // them even though it refuses the write.
  uint32_t payload_length() const;
};

// INVALID_ARGUMENT unless `bytes` is a whole header with the request magic.
absl::StatusOr<Request> ParseRequestHeader(std::string_view bytes);

// What the connection negotiated and what the export is.
struct RequestLimits {
  uint64_t export_size = 0;
  uint32_t max_block_size = 0;  // largest read
  bool structured_replies = false;
  bool base_allocation = false;  // the meta context was selected
};

// 0 when the request is to be served, else the NBD errno of its reply.
uint32_t CheckRequest(const Request& request, const RequestLimits& limits);

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_REQUEST_PARSER_H_
