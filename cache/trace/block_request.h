// BlockRequest: one request of a block-I/O trace (a VM's reads and writes of its virtual
// disk), as the trace readers return it, in bytes and microseconds.
#ifndef CHUNKCACHE_CACHE_TRACE_BLOCK_REQUEST_H_
#define CHUNKCACHE_CACHE_TRACE_BLOCK_REQUEST_H_

#include <cstdint>

namespace chunkcache {

enum class BlockOp : uint8_t { kRead, kWrite, kOther };

struct BlockRequest {
  uint64_t offset = 0;  // bytes from the start of the disk
  uint64_t length = 0;  // bytes
  BlockOp op = BlockOp::kOther;
  uint64_t time_us = 0;  // issue time, arbitrary epoch
};

// SCSI opcode to BlockOp: READ(6/10/12/16) and WRITE(6/10/12/16); anything else is kOther.
BlockOp BlockOpFromScsiOpcode(uint32_t opcode);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_BLOCK_REQUEST_H_
