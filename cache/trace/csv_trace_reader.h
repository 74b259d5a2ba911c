// Reader for the CSV form of a block trace (libCacheSim's cloudPhysicsIO.csv): an optional
// header "version,time,op,size,lbn", then one line per request: version, time in whole
// seconds, SCSI opcode in hex, size in bytes, lbn in 512-byte sectors.
//
//   absl::StatusOr<std::vector<BlockRequest>> requests = ParseCsvTrace(text);
//
// Empty lines and a trailing '\r' are ignored. A malformed line is INVALID_ARGUMENT naming
// its line number and what is wrong with it.
#ifndef CHUNKCACHE_CACHE_TRACE_CSV_TRACE_READER_H_
#define CHUNKCACHE_CACHE_TRACE_CSV_TRACE_READER_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/trace/block_request.h"

namespace chunkcache {

absl::StatusOr<std::vector<BlockRequest>> ParseCsvTrace(std::string_view text);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_CSV_TRACE_READER_H_
