// Encoders of what the server sends: option replies during the handshake, and the headers of
// simple replies and structured reply chunks during transmission. Data payloads are not
// copied here: a read reply is a header from these functions followed by arena slices.
//
//   std::string ack = OptionReply(kOptStructuredReply, kRepAck, "");
//   std::string head = OffsetDataHeader(kReplyFlagDone, cookie, offset, data_length);
//   // ...then data_length bytes of data
#ifndef CHUNKCACHE_NBD_REPLY_ENCODER_H_
#define CHUNKCACHE_NBD_REPLY_ENCODER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chunkcache::nbd {

// The server's greeting: NBDMAGIC, IHAVEOPT, handshake flags.
std::string Greeting();

std::string OptionReply(uint32_t option, uint32_t reply_type, std::string_view data);
// NBD_REP_SERVER data: one export name.
std::string ServerReplyData(std::string_view name);
// NBD_REP_INFO data.
std::string InfoExportData(uint64_t size, uint16_t transmission_flags);
std::string InfoStringData(uint16_t info_type, std::string_view text);  // NAME, DESCRIPTION
std::string InfoBlockSizeData(uint32_t minimum, uint32_t preferred, uint32_t maximum);
// NBD_REP_META_CONTEXT data.
std::string MetaContextData(uint32_t context_id, std::string_view name);
// The answer to NBD_OPT_EXPORT_NAME (there is no option reply header).
std::string ExportNameReply(uint64_t size, uint16_t transmission_flags, bool no_zeroes);

// Transmission.
inline constexpr size_t kSimpleReplyHeaderSize = 16;
inline constexpr size_t kStructuredHeaderSize = 20;
std::string SimpleReplyHeader(uint32_t error, uint64_t cookie);
std::string StructuredHeader(uint16_t flags, uint16_t type, uint64_t cookie,
                             uint32_t payload_length);
// NBD_REPLY_TYPE_OFFSET_DATA's header and offset; `data_length` bytes of data follow.
std::string OffsetDataHeader(uint16_t flags, uint64_t cookie, uint64_t offset,
                             uint32_t data_length);
std::string OffsetHoleChunk(uint16_t flags, uint64_t cookie, uint64_t offset, uint32_t length);
// NBD_REPLY_TYPE_ERROR_OFFSET when `offset` is set (a read), else NBD_REPLY_TYPE_ERROR.
std::string ErrorChunk(uint16_t flags, uint64_t cookie, uint32_t error, std::string_view message,
                       const uint64_t* offset = nullptr);
std::string NoneChunk(uint64_t cookie);  // NBD_REPLY_TYPE_NONE with DONE

struct Extent {
  uint32_t length = 0;
  uint32_t flags = 0;
};
std::string BlockStatusChunk(uint16_t flags, uint64_t cookie, uint32_t context_id,
                             const std::vector<Extent>& extents);

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_REPLY_ENCODER_H_
