#include "nbd/nbd_observer.h"

#include "nbd/protocol.h"

namespace chunkcache::nbd {

std::string_view CommandName(uint16_t type) {
  switch (type) {
    case kCmdRead:
      return "read";
    case kCmdWrite:
      return "write";
    case kCmdDisc:
      return "disc";
    case kCmdFlush:
      return "flush";
    case kCmdTrim:
      return "trim";
    case kCmdCache:
      return "cache";
    case kCmdWriteZeroes:
      return "write_zeroes";
    case kCmdBlockStatus:
      return "block_status";
    default:
      return "other";
  }
}

std::string_view ResultName(uint32_t error) {
  switch (error) {
    case 0:
      return "ok";
    case kErrPerm:
      return "eperm";
    case kErrIo:
      return "eio";
    case kErrNoMem:
      return "enomem";
    case kErrInvalid:
      return "einval";
    case kErrOverflow:
      return "eoverflow";
    case kErrNotSup:
      return "enotsup";
    case kErrShutdown:
      return "eshutdown";
    default:
      return "other";
  }
}

}  // namespace chunkcache::nbd
