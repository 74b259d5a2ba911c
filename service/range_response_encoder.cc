#include "service/range_response_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include <string>
#include <utility>
#include <vector>

namespace chunkcache {
namespace {

// Protobuf wire tags of ReadRangeResponse: (field number << 3) | wire type.
constexpr uint8_t kOffsetTag = (1 << 3) | 0;  // varint
constexpr uint8_t kDataTag = (2 << 3) | 2;    // length-delimited
constexpr uint8_t kEofTag = (3 << 3) | 0;     // varint

// What a zero-copy slice owns: its chunk's pin, the counter that the server waits on, and the
// charge on its call's reply pins (none when the call has no budget).
struct PinnedSlice {
  ChunkHandle chunk;
  std::shared_ptr<ZeroCopyPins> pins;
  std::shared_ptr<ReplyPins> reply_pins;
  uint64_t charged = 0;
};

void ReleasePinnedSlice(void* user_data) {
  auto* pinned = static_cast<PinnedSlice*>(user_data);
  std::shared_ptr<ZeroCopyPins> pins = std::move(pinned->pins);
  std::shared_ptr<ReplyPins> reply_pins = std::move(pinned->reply_pins);
  const uint64_t charged = pinned->charged;
  delete pinned;  // drops the chunk's pin first (a fill waiting for room may use it)...
  // ...then gives the charge back (a stream waiting for its share may read on)...
  if (reply_pins != nullptr) reply_pins->Unpin(charged);
  pins->Release();  // ...then tells the server it is gone
}

}  // namespace

grpc::Slice ChunkReplySlice(const ChunkHandle& chunk, std::string_view data,
                            const std::shared_ptr<ZeroCopyPins>& pins,
                            const std::shared_ptr<ReplyPins>& reply_pins) {
  const uint64_t charge = chunk.size();  // the slice pins the whole chunk
  if (reply_pins != nullptr && !reply_pins->TryPin(charge)) {
    reply_pins->CountCopied(data.size());
    return grpc::Slice(data.data(), data.size());
  }
  pins->Acquire();
  auto* pinned = new PinnedSlice{chunk, pins, reply_pins, reply_pins != nullptr ? charge : 0};
  // gRPC only reads slice memory; the arena bytes are immutable while pinned.
  return grpc::Slice(const_cast<char*>(data.data()), data.size(), &ReleasePinnedSlice, pinned);
}

void AppendVarint(std::string& out, uint64_t value) {
  uint8_t bytes[10];  // the longest varint of a 64-bit value
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, bytes);
  out.append(reinterpret_cast<const char*>(bytes), static_cast<size_t>(end - bytes));
}

void ZeroCopyPins::Acquire() {
  absl::MutexLock lock(&mu_);
  ++held_;
}

void ZeroCopyPins::Release() {
  absl::MutexLock lock(&mu_);
  --held_;
}

int64_t ZeroCopyPins::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

bool ZeroCopyPins::WaitUntilReleased(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto none_held = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&none_held), timeout);
}

grpc::ByteBuffer EncodeReadRangeResponse(const RangeRead& read,
                                         const std::shared_ptr<ZeroCopyPins>& pins,
                                         const std::shared_ptr<ReplyPins>& reply_pins) {
  const uint64_t length = read.length();
  std::string header;
  if (read.offset != 0) {
    header.push_back(static_cast<char>(kOffsetTag));
    AppendVarint(header, read.offset);
  }
  if (length != 0) {
    header.push_back(static_cast<char>(kDataTag));
    AppendVarint(header, length);
  }
  std::vector<grpc::Slice> slices;
  slices.reserve(read.slices.size() + 2);
  slices.emplace_back(header.data(), header.size());
  std::string small;  // consecutive small slices, copied into one
  auto flush_small = [&] {
    if (small.empty()) return;
    slices.emplace_back(small.data(), small.size());
    small.clear();
  };
  for (const ChunkSlice& slice : read.slices) {
    const std::string_view data = slice.data();
    if (data.size() < kCopyBelowBytes) {
      small.append(data);
      continue;
    }
    flush_small();
    slices.push_back(ChunkReplySlice(slice.chunk, data, pins, reply_pins));
  }
  flush_small();
  if (read.eof) {
    const char eof[2] = {static_cast<char>(kEofTag), 1};
    slices.emplace_back(eof, sizeof(eof));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace chunkcache
