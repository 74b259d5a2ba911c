#include "nbd/request_parser.h"

#include "nbd/protocol.h"
#include "nbd/wire.h"

namespace chunkcache::nbd {
namespace {

bool InRange(const Request& request, uint64_t size) {
  return request.offset <= size && request.length <= size - request.offset;
}

}  // namespace

uint32_t Request::payload_length() const { return type == kCmdWrite ? length : 0; }

absl::StatusOr<Request> ParseRequestHeader(std::string_view bytes) {
  ByteReader in(bytes);
  const uint32_t magic = in.U32();
  Request request;
  request.flags = in.U16();
  request.type = in.U16();
  request.cookie = in.U64();
  request.offset = in.U64();
  request.length = in.U32();
  if (!in.ok() || in.remaining() != 0) {
    return absl::InvalidArgumentError("request header: 28 bytes");
  }
  if (magic != kRequestMagic) return absl::InvalidArgumentError("request without its magic");
  return request;
}

uint32_t CheckRequest(const Request& request, const RequestLimits& limits) {
  switch (request.type) {
    case kCmdWrite:
    case kCmdTrim:
    case kCmdWriteZeroes:
      return kErrPerm;  // a read-only export
    case kCmdDisc:
    case kCmdFlush:  // nothing is ever written: there is nothing to flush
      return 0;
    case kCmdRead: {
      uint16_t allowed = kCmdFlagFua;
      if (limits.structured_replies) allowed |= kCmdFlagDf;
      if ((request.flags & ~allowed) != 0) return kErrInvalid;
      if (request.length == 0 || request.length > limits.max_block_size) return kErrInvalid;
      return InRange(request, limits.export_size) ? 0 : kErrInvalid;
    }
    case kCmdCache:
      if ((request.flags & ~kCmdFlagFua) != 0 || request.length == 0) return kErrInvalid;
      return InRange(request, limits.export_size) ? 0 : kErrInvalid;
    case kCmdBlockStatus:
      if (!limits.base_allocation || !limits.structured_replies) return kErrInvalid;
      if ((request.flags & ~(kCmdFlagReqOne | kCmdFlagFua)) != 0) return kErrInvalid;
      if (request.length == 0) return kErrInvalid;
      return InRange(request, limits.export_size) ? 0 : kErrInvalid;
    default:
      return kErrInvalid;
  }
}

}  // namespace chunkcache::nbd
