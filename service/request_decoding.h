// Parses the request message of a raw (ByteBuffer) callback method — the methods whose replies
// are encoded zero-copy — into its generated class. A request that is not a valid message is
// INVALID_ARGUMENT, never a crash.
//
//   absl::StatusOr<v1::ReadRangeRequest> request = DecodeRequest<v1::ReadRangeRequest>(*bytes);
#ifndef CHUNKCACHE_SERVICE_REQUEST_DECODING_H_
#define CHUNKCACHE_SERVICE_REQUEST_DECODING_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace chunkcache {

template <typename Message>
absl::StatusOr<Message> DecodeRequest(const grpc::ByteBuffer& bytes) {
  grpc::ByteBuffer copy(bytes);  // shares the slices; the reader needs a mutable buffer
  Message message;
  grpc::ProtoBufferReader reader(&copy);
  if (!message.ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not a valid ", message.GetTypeName(), " message"));
  }
  return message;
}

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_REQUEST_DECODING_H_
