// ChunkCacheService: the chunkcache.v1.ChunkCache gRPC service on the callback API (no thread
// per request). ReadRange, StreamRange and GetChunk are raw methods so their replies can point
// into the cache arena (zero-copy, see range_response_encoder.h and chunk_response_encoder.h);
// StatSnapshot, Prefetch, GetSnapshotFile and ListSnapshots use the generated message classes.
// GetChunk, GetSnapshotFile and ListSnapshots serve downstream chunkcaches (tiering). Every method
// checks its request through the ArchiveResolver (authentication, name validation,
// authorization, datastore, session) and reports its outcome to RequestMetrics.
//
//   ChunkCacheService service(deps);
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service);
//
// Thread-safe; `deps` and everything it points to must outlive the server.
#ifndef CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_
#define CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_

#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "service/service_deps.h"

namespace chunkcache {

using ChunkCacheServiceBase = v1::ChunkCache::WithRawCallbackMethod_ReadRange<
    v1::ChunkCache::WithRawCallbackMethod_StreamRange<
        v1::ChunkCache::WithRawCallbackMethod_GetChunk<v1::ChunkCache::CallbackService>>>;

class ChunkCacheService final : public ChunkCacheServiceBase {
 public:
  explicit ChunkCacheService(ServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerUnaryReactor* ReadRange(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamRange(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* StatSnapshot(grpc::CallbackServerContext* context,
                                         const v1::StatSnapshotRequest* request,
                                         v1::SnapshotInfo* response) override;
  grpc::ServerUnaryReactor* Prefetch(grpc::CallbackServerContext* context,
                                     const v1::PrefetchRequest* request,
                                     v1::PrefetchResponse* response) override;
  grpc::ServerUnaryReactor* GetChunk(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetSnapshotFile(grpc::CallbackServerContext* context,
                                            const v1::GetSnapshotFileRequest* request,
                                            v1::GetSnapshotFileResponse* response) override;
  grpc::ServerUnaryReactor* ListSnapshots(grpc::CallbackServerContext* context,
                                          const v1::ListSnapshotsRequest* request,
                                          v1::ListSnapshotsResponse* response) override;

 private:
  const ServiceDeps deps_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_
