// Reader for VMware vscsiStats binary traces (the CloudPhysics traces): headerless arrays of
// little-endian records, version 1 (32 bytes) or 2 (40 bytes), told apart by the version
// word of the first two records (shared/traces/VSCSI_FORMAT.md).
//
//   absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(bytes);
//
// Every record is returned, in file order, with its byte offset (lbn * 512) and length;
// opcodes other than READ/WRITE come back as BlockOp::kOther. Malformed input (empty, a size
// that is not a whole number of records, a record with another version, an offset that
// overflows) is INVALID_ARGUMENT naming the record.
#ifndef CHUNKCACHE_CACHE_TRACE_VSCSI_READER_H_
#define CHUNKCACHE_CACHE_TRACE_VSCSI_READER_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/trace/block_request.h"

namespace chunkcache {

absl::StatusOr<std::vector<BlockRequest>> ParseVscsiTrace(std::string_view bytes);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_VSCSI_READER_H_
