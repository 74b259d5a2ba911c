#include "service/chunk_response_encoder.h"

#include <grpcpp/support/slice.h>
#include <zlib.h>

#include <string>
#include <string_view>
#include <vector>

#include "format/blob.h"

namespace chunkcache {
namespace {

constexpr uint8_t kBlobTag = (1 << 3) | 2;  // GetChunkResponse.blob, length-delimited
constexpr size_t kPlainBlobHeaderBytes = 12;

// The magic of an uncompressed, unencrypted blob, taken from the codec itself: the first
// 8 bytes of an empty one.
const std::string& PlainBlobMagic() {
  static const std::string* const magic = [] {
    absl::StatusOr<std::string> empty = EncodeBlob("", {.compress = false});
    return new std::string(empty.ok() ? empty->substr(0, 8) : std::string(8, '\0'));
  }();
  return *magic;
}

}  // namespace

grpc::ByteBuffer EncodeGetChunkResponse(const ChunkHandle& chunk,
                                        const std::shared_ptr<ZeroCopyPins>& pins,
                                        const std::shared_ptr<ReplyPins>& reply_pins) {
  const std::string_view data = chunk.data();
  const uint32_t crc =
      static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
  std::string header;
  header.push_back(static_cast<char>(kBlobTag));
  AppendVarint(header, kPlainBlobHeaderBytes + data.size());
  header.append(PlainBlobMagic());
  for (int i = 0; i < 4; ++i) header.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));

  std::vector<grpc::Slice> slices;
  if (data.size() < kCopyBelowBytes) {
    header.append(data);
    slices.emplace_back(header.data(), header.size());
  } else {
    slices.emplace_back(header.data(), header.size());
    slices.push_back(ChunkReplySlice(chunk, data, pins, reply_pins));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace chunkcache
