// Encodes a RangeRead as the wire bytes of a chunkcache.v1.ReadRangeResponse without copying
// chunk data: the `data` field is made of gRPC slices that point into the cache arena, each
// holding its chunk pinned (a ChunkHandle copy) until gRPC has sent it and drops the slice.
// Slices smaller than kCopyBelowBytes are copied instead (pinning costs more than copying), and
// so are those whose chunk the call's ReplyPins cannot charge (reply_pin_budget.h: its
// connection's share or the server's total of pinned reply bytes is spent; copying releases
// the chunk at once).
//
//   auto pins = std::make_shared<ZeroCopyPins>();
//   std::shared_ptr<ReplyPins> reply_pins = budget->ForCall(context->peer());
//   grpc::ByteBuffer message = EncodeReadRangeResponse(*read, pins, reply_pins);
//   call->StartWrite(&message);
//   ...  // at shutdown, before the cache goes away:
//   pins->WaitUntilReleased(absl::Seconds(5));
//
// The encoding is the standard protobuf one (fields 1 offset, 2 data, 3 eof, each omitted
// when zero/empty/false), so every client parses it with the generated message class.
#ifndef CHUNKCACHE_SERVICE_RANGE_RESPONSE_ENCODER_H_
#define CHUNKCACHE_SERVICE_RANGE_RESPONSE_ENCODER_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cache/chunk_handle.h"
#include "cache/range_read.h"
#include "service/reply_pin_budget.h"

namespace chunkcache {

inline constexpr uint64_t kCopyBelowBytes = 512;

// Counts the chunk pins held by slices that gRPC has not released yet. Every ChunkHandle must
// be released before its ChunkCache is destroyed; the server waits on this at shutdown.
class ZeroCopyPins {
 public:
  void Acquire();
  void Release();
  int64_t held() const;
  // True when no pin is held, waiting up to `timeout` for the last ones to be released.
  bool WaitUntilReleased(absl::Duration timeout);

 private:
  mutable absl::Mutex mu_;
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;
};

// The pieces both zero-copy encoders (this one and chunk_response_encoder.h) build replies
// from: a slice of `data`, bytes inside `chunk`, that holds the chunk pinned (counted in
// `pins`, and charged to `reply_pins` unless it is null) until gRPC has sent it and drops the
// slice, or a copy of `data` when `reply_pins` cannot take the chunk; and a protobuf varint
// appended to a header written by hand.
grpc::Slice ChunkReplySlice(const ChunkHandle& chunk, std::string_view data,
                            const std::shared_ptr<ZeroCopyPins>& pins,
                            const std::shared_ptr<ReplyPins>& reply_pins);
void AppendVarint(std::string& out, uint64_t value);

// `reply_pins` null: every slice of kCopyBelowBytes or more is pinned.
grpc::ByteBuffer EncodeReadRangeResponse(const RangeRead& read,
                                         const std::shared_ptr<ZeroCopyPins>& pins,
                                         const std::shared_ptr<ReplyPins>& reply_pins);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_RANGE_RESPONSE_ENCODER_H_
