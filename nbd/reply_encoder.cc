#include "nbd/reply_encoder.h"

#include <algorithm>

#include "nbd/protocol.h"
#include "nbd/wire.h"

namespace chunkcache::nbd {
namespace {

// Error messages are protocol strings: keep them short.
constexpr size_t kMaxErrorMessage = 1024;

}  // namespace

std::string Greeting() {
  return ByteWriter()
      .U64(kInitMagic)
      .U64(kOptionMagic)
      .U16(kFlagFixedNewstyle | kFlagNoZeroes)
      .Take();
}

std::string OptionReply(uint32_t option, uint32_t reply_type, std::string_view data) {
  return ByteWriter()
      .U64(kOptionReplyMagic)
      .U32(option)
      .U32(reply_type)
      .U32(static_cast<uint32_t>(data.size()))
      .Bytes(data)
      .Take();
}

std::string ServerReplyData(std::string_view name) {
  return ByteWriter().U32(static_cast<uint32_t>(name.size())).Bytes(name).Take();
}

std::string InfoExportData(uint64_t size, uint16_t transmission_flags) {
  return ByteWriter().U16(kInfoExport).U64(size).U16(transmission_flags).Take();
}

std::string InfoStringData(uint16_t info_type, std::string_view text) {
  return ByteWriter().U16(info_type).Bytes(text).Take();
}

std::string InfoBlockSizeData(uint32_t minimum, uint32_t preferred, uint32_t maximum) {
  return ByteWriter().U16(kInfoBlockSize).U32(minimum).U32(preferred).U32(maximum).Take();
}

std::string MetaContextData(uint32_t context_id, std::string_view name) {
  return ByteWriter().U32(context_id).Bytes(name).Take();
}

std::string ExportNameReply(uint64_t size, uint16_t transmission_flags, bool no_zeroes) {
  ByteWriter out;
  out.U64(size).U16(transmission_flags);
  if (!no_zeroes) out.Zeroes(124);
  return out.Take();
}

std::string SimpleReplyHeader(uint32_t error, uint64_t cookie) {
  return ByteWriter().U32(kSimpleReplyMagic).U32(error).U64(cookie).Take();
}

std::string StructuredHeader(uint16_t flags, uint16_t type, uint64_t cookie,
                             uint32_t payload_length) {
  return ByteWriter()
      .U32(kStructuredReplyMagic)
      .U16(flags)
      .U16(type)
      .U64(cookie)
      .U32(payload_length)
      .Take();
}

std::string OffsetDataHeader(uint16_t flags, uint64_t cookie, uint64_t offset,
                             uint32_t data_length) {
  std::string out = StructuredHeader(flags, kReplyTypeOffsetData, cookie, 8 + data_length);
  return out + ByteWriter().U64(offset).Take();
}

std::string OffsetHoleChunk(uint16_t flags, uint64_t cookie, uint64_t offset, uint32_t length) {
  return StructuredHeader(flags, kReplyTypeOffsetHole, cookie, 12) +
         ByteWriter().U64(offset).U32(length).Take();
}

std::string ErrorChunk(uint16_t flags, uint64_t cookie, uint32_t error, std::string_view message,
                       const uint64_t* offset) {
  message = message.substr(0, std::min(message.size(), kMaxErrorMessage));
  ByteWriter payload;
  payload.U32(error).U16(static_cast<uint16_t>(message.size())).Bytes(message);
  if (offset != nullptr) payload.U64(*offset);
  std::string body = payload.Take();
  return StructuredHeader(flags, offset != nullptr ? kReplyTypeErrorOffset : kReplyTypeError,
                          cookie, static_cast<uint32_t>(body.size())) +
         body;
}

std::string NoneChunk(uint64_t cookie) {
  return StructuredHeader(kReplyFlagDone, kReplyTypeNone, cookie, 0);
}

std::string BlockStatusChunk(uint16_t flags, uint64_t cookie, uint32_t context_id,
                             const std::vector<Extent>& extents) {
  ByteWriter payload;
  payload.U32(context_id);
  for (const Extent& extent : extents) payload.U32(extent.length).U32(extent.flags);
  std::string body = payload.Take();
  return StructuredHeader(flags, kReplyTypeBlockStatus, cookie,
                          static_cast<uint32_t>(body.size())) +
         body;
}

}  // namespace chunkcache::nbd
