// Big-endian (network order) integers in and out of byte strings, as every NBD message
// writes them. ByteReader never reads past its input: a short read fails and leaves the
// reader failed, so a parser checks once at the end.
//
//   ByteWriter out;
//   out.U64(kOptionReplyMagic).U32(option).U32(kRepAck).U32(0);
//   ByteReader in(payload);
//   uint32_t length = in.U32();
//   std::string_view name = in.Bytes(length);
//   if (!in.ok()) return Invalid("truncated");
#ifndef CHUNKCACHE_NBD_WIRE_H_
#define CHUNKCACHE_NBD_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chunkcache::nbd {

class ByteWriter {
 public:
  ByteWriter& U16(uint16_t v) { return Big(v, 2); }
  ByteWriter& U32(uint32_t v) { return Big(v, 4); }
  ByteWriter& U64(uint64_t v) { return Big(v, 8); }
  ByteWriter& Bytes(std::string_view bytes) {
    out_.append(bytes);
    return *this;
  }
  ByteWriter& Zeroes(size_t count) {
    out_.append(count, '\0');
    return *this;
  }
  size_t size() const { return out_.size(); }
  std::string Take() { return std::move(out_); }

 private:
  ByteWriter& Big(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint16_t U16() { return static_cast<uint16_t>(Big(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Big(4)); }
  uint64_t U64() { return Big(8); }
  std::string_view Bytes(size_t count) {
    if (!ok_ || count > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string_view bytes = in_.substr(0, count);
    in_.remove_prefix(count);
    return bytes;
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size(); }

 private:
  uint64_t Big(size_t bytes) {
    std::string_view raw = Bytes(bytes);
    uint64_t v = 0;
    for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_WIRE_H_
