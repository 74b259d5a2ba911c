// Encodes a cached chunk as the wire bytes of a chunkcache.v1.GetChunkResponse without copying
// it: `blob` is an uncompressed, unencrypted DataBlob (magic, CRC32 of the data, the data) made
// of two gRPC slices — a small header and a slice pointing into the cache arena that holds the
// chunk pinned until gRPC has sent it (as ReadRange replies do, range_response_encoder.h), or a
// copy of the chunk when the call's ReplyPins cannot take it (reply_pin_budget.h).
//
//   grpc::ByteBuffer message = EncodeGetChunkResponse(handle, pins, reply_pins);
//
// The CRC is computed over the arena bytes on every call (the cache keeps none); the
// downstream checks it, and then the digest, before it uses a byte.
#ifndef CHUNKCACHE_SERVICE_CHUNK_RESPONSE_ENCODER_H_
#define CHUNKCACHE_SERVICE_CHUNK_RESPONSE_ENCODER_H_

#include <grpcpp/support/byte_buffer.h>

#include <memory>

#include "cache/chunk_handle.h"
#include "service/range_response_encoder.h"

namespace chunkcache {

grpc::ByteBuffer EncodeGetChunkResponse(const ChunkHandle& chunk,
                                        const std::shared_ptr<ZeroCopyPins>& pins,
                                        const std::shared_ptr<ReplyPins>& reply_pins);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CHUNK_RESPONSE_ENCODER_H_
