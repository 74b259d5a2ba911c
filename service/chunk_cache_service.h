// ChunkCacheService: the chunkcache.v1.ChunkCache gRPC service on the callback API (no thread
// per request). ReadRange, StreamRange and GetChunk are raw methods so their replies can point
// into the cache arena (zero-copy, see range_response_encoder.h and chunk_response_encoder.h);
// StatSnapshot, Prefetch, GetSnapshotFile and ListSnapshots use the generated message classes.
// GetChunk, GetSnapshotFile and ListSnapshots serve downstream chunkcaches (tiering). Every method
// checks its request through the ArchiveResolver (authentication, name validation,
// authorization, datastore, session) and reports its outcome to RequestMetrics.
//
// No handler blocks on the upstream: the service owns a BlockingPool (blocking_pool.h) of
// `upstream_call_threads` workers, and the calls hand it what may block — opening an archive
// that is not open yet (its manifest and index; one open, through the ArchiveOpener, however
// many calls wait for the archive), GetSnapshotFile's read, ListSnapshots — and are finished
// from the worker. Calls on an archive that is open already never wait for it, so
// a slow upstream delays only the calls that need it. When `max_queued_upstream_calls` wait
// already, a call that needs the pool is refused with RESOURCE_EXHAUSTED.
//
// Nor does a handler do work that grows with the index on a gRPC thread: Prefetch is bounded
// (at most max_prefetch_ranges ranges, at most max_prefetch_chunks entries walked), and
// StatSnapshot of an open archive with many distinct chunks (its cached_bytes is one cache
// lookup per distinct chunk) runs on the pool too.
//
//   ChunkCacheService service(deps, /*upstream_call_threads=*/8,
//                             /*max_queued_upstream_calls=*/256);
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service);
//   ...
//   server->Shutdown(); server->Wait();
//   service.Shutdown();  // before the session registry goes: waits for the opens running
//
// Thread-safe; `deps` and everything it points to must outlive the server and Shutdown.
#ifndef CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_
#define CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_

#include <cstddef>

#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "service/archive_opener.h"
#include "service/blocking_pool.h"
#include "service/service_deps.h"

namespace chunkcache {

using ChunkCacheServiceBase = v1::ChunkCache::WithRawCallbackMethod_ReadRange<
    v1::ChunkCache::WithRawCallbackMethod_StreamRange<
        v1::ChunkCache::WithRawCallbackMethod_GetChunk<v1::ChunkCache::CallbackService>>>;

class ChunkCacheService final : public ChunkCacheServiceBase {
 public:
  // `deps.pool` is set to the service's own pool.
  ChunkCacheService(ServiceDeps deps, size_t upstream_call_threads,
                    size_t max_queued_upstream_calls);
  ~ChunkCacheService() override { Shutdown(); }

  // Once the gRPC server has stopped: answers the upstream work still queued UNAVAILABLE
  // (its calls are finished already) and waits for the work running. Idempotent.
  void Shutdown();

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
  BlockingPool pool_;
  ArchiveOpener opener_;
  const ServiceDeps deps_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CHUNK_CACHE_SERVICE_H_
