#include "cache/trace/block_request.h"

namespace chunkcache {

BlockOp BlockOpFromScsiOpcode(uint32_t opcode) {
  switch (opcode) {
    case 0x08:
    case 0x28:
    case 0xA8:
    case 0x88:
      return BlockOp::kRead;
    case 0x0A:
    case 0x2A:
    case 0xAA:
    case 0x8A:
      return BlockOp::kWrite;
    default:
      return BlockOp::kOther;
  }
}

}  // namespace chunkcache
