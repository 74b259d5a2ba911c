// GetChunkReactor: one unary GetChunk call (tiering: a downstream chunkcache asks this one for
// a chunk by digest). The chunk is read through this server's ChunkCache — shared with every
// ReadRange and every other downstream, so each chunk is fetched from the datastore once —
// verified exactly as for ReadRange, and sent zero-copy as an uncompressed, unencrypted
// DataBlob of its plaintext (chunk_response_encoder.h).
//
// The request may name the snapshot and archive the digest was read for; they are passed on
// to the upstream (a PBS server needs them) and never change which chunk is served. It may
// also name the crypt mode. With `crypt_mode` set, the
// chunk is looked up and read in that mode only: "encrypt" with the datastore's key, "none" and
// "sign-only" as plain; a blob of the other mode is DATA_LOSS. Without it (an older caller) the
// mode is guessed: a chunk already cached (by digest for plain chunks, by key fingerprint and
// digest for encrypted ones) is served as it is; on a miss, a datastore without a key is read
// as plain; with a key, the chunk is first read as an encrypted chunk and, when the blob turns
// out to be plain (a format error), once more as a plain one (README.md, "Tiering").
//
// Errors: the caller needs an allow rule covering the whole datastore (PERMISSION_DENIED);
// a digest that is not 64 lowercase hex characters, or an unknown crypt mode, is
// INVALID_ARGUMENT; a missing chunk NOT_FOUND; a chunk that fails verification DATA_LOSS (never
// sent, never cached); an encrypted chunk (or crypt mode "encrypt") of a datastore without a
// key here FAILED_PRECONDITION. The reply is finished from the
// cache thread that completes the lookup, or at once from OnCancel.
//
// Owns itself: made by StartCall, deleted in OnDone.
#ifndef CHUNKCACHE_SERVICE_GET_CHUNK_REACTOR_H_
#define CHUNKCACHE_SERVICE_GET_CHUNK_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "cache/chunk_handle.h"
#include "cache/chunk_request.h"
#include "format/digest.h"
#include "service/archive_resolver.h"
#include "service/call_reactor.h"
#include "service/cancellable_operation.h"
#include "service/service_deps.h"

namespace chunkcache {

class GetChunkReactor final : public CallReactor<grpc::ServerUnaryReactor, CancellableChunkLookup> {
 public:
  GetChunkReactor(const ServiceDeps& deps, grpc::CallbackServerContext* context,
                  grpc::ByteBuffer* response)
      : CallReactor(deps, context, Rpc::kGetChunk), response_(response) {}

 private:
  void Begin(const grpc::ByteBuffer& request) override;
  // Looks the chunk up as attempts_[attempt] describes.
  void Lookup(size_t attempt);
  void OnChunk(size_t attempt, absl::StatusOr<ChunkHandle> chunk);
  void LogFailure(const absl::Status& status) const override;
  // FAILED_PRECONDITION: the chunk is encrypted and the datastore has no key here.
  absl::Status NoKeyError() const;

  grpc::ByteBuffer* const response_;
  std::optional<DatastoreRequest> request_;
  ChunkDigest digest_;
  // How to read the chunk, in order: in the requested crypt mode, or (none requested) as an
  // encrypted chunk with the datastore's key, as a plain one, or both (see above).
  std::vector<std::shared_ptr<const ChunkSource>> attempts_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_GET_CHUNK_REACTOR_H_
