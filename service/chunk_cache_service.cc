#include "service/chunk_cache_service.h"

#include <vector>

#include "absl/strings/str_join.h"
#include "service/get_chunk_reactor.h"
#include "service/read_range_reactor.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"
#include "service/stream_range_reactor.h"

namespace chunkcache {

grpc::ServerUnaryReactor* ChunkCacheService::ReadRange(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return ReadRangeReactor::Start(deps_, context, request, response);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ChunkCacheService::StreamRange(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return StreamRangeReactor::Start(deps_, context, request);
}

grpc::ServerUnaryReactor* ChunkCacheService::GetChunk(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return GetChunkReactor::Start(deps_, context, request, response);
}

grpc::ServerUnaryReactor* ChunkCacheService::FinishUnary(grpc::CallbackServerContext* context,
                                                         Rpc rpc, absl::Time started,
                                                         const absl::Status& status,
                                                         const RpcEvent& event) {
  deps_.metrics->RecordRequest(rpc, status.code(), absl::Now() - started);
  if (!status.ok()) LogRpcFailure(event, status);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* ChunkCacheService::StatSnapshot(grpc::CallbackServerContext* context,
                                                          const v1::StatSnapshotRequest* request,
                                                          v1::SnapshotInfo* response) {
  const absl::Time started = absl::Now();
  const AdmissionTicket admission(deps_.admission);
  if (!admission.admitted()) {
    return FinishUnary(context, Rpc::kStatSnapshot, started, AdmissionTicket::ShuttingDown(),
                       {Rpc::kStatSnapshot});
  }
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) {
    return FinishUnary(context, Rpc::kStatSnapshot, started, archive.status(),
                       {Rpc::kStatSnapshot});
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*archive);
  if (!session.ok()) {
    return FinishUnary(context, Rpc::kStatSnapshot, started, session.status(),
                       {Rpc::kStatSnapshot, &*archive});
  }
  const SnapshotStats stats = (*session)->Stats();
  response->set_size(stats.size);
  response->set_chunk_size(stats.chunk_size);
  response->set_chunk_count(stats.chunk_count);
  response->set_distinct_chunks(stats.distinct_chunks);
  response->set_crypt_mode(stats.crypt_mode);
  response->set_hinted_chunks(stats.hinted_chunks);
  response->set_cached_bytes(stats.cached_bytes);
  response->set_index_csum(stats.index_csum);
  return FinishUnary(context, Rpc::kStatSnapshot, started, absl::OkStatus(), {});
}

grpc::ServerUnaryReactor* ChunkCacheService::Prefetch(grpc::CallbackServerContext* context,
                                                      const v1::PrefetchRequest* request,
                                                      v1::PrefetchResponse* response) {
  const absl::Time started = absl::Now();
  const AdmissionTicket admission(deps_.admission);
  if (!admission.admitted()) {
    return FinishUnary(context, Rpc::kPrefetch, started, AdmissionTicket::ShuttingDown(),
                       {Rpc::kPrefetch});
  }
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) {
    return FinishUnary(context, Rpc::kPrefetch, started, archive.status(), {Rpc::kPrefetch});
  }
  if (request->ranges().empty()) {
    return FinishUnary(context, Rpc::kPrefetch, started,
                       absl::InvalidArgumentError("ranges: name at least one byte range"),
                       {Rpc::kPrefetch, &*archive});
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*archive);
  if (!session.ok()) {
    return FinishUnary(context, Rpc::kPrefetch, started, session.status(),
                       {Rpc::kPrefetch, &*archive});
  }
  std::vector<ByteRange> ranges;
  ranges.reserve(request->ranges_size());
  for (const v1::ByteRange& range : request->ranges()) {
    ranges.push_back(ByteRange{range.offset(), range.length()});
  }
  absl::StatusOr<PrefetchCounts> counts = (*session)->Prefetch(ranges);
  if (!counts.ok()) {
    return FinishUnary(context, Rpc::kPrefetch, started, counts.status(),
                       {Rpc::kPrefetch, &*archive, session->get()});
  }
  response->set_chunks_requested(counts->chunks_requested);
  response->set_chunks_already_cached(counts->chunks_already_cached);
  return FinishUnary(context, Rpc::kPrefetch, started, absl::OkStatus(), {});
}

// Reads the file on the gRPC thread, as Open reads an index: files are small next to chunks.
grpc::ServerUnaryReactor* ChunkCacheService::GetSnapshotFile(
    grpc::CallbackServerContext* context, const v1::GetSnapshotFileRequest* request,
    v1::GetSnapshotFileResponse* response) {
  const absl::Time started = absl::Now();
  const AdmissionTicket admission(deps_.admission);
  if (!admission.admitted()) {
    return FinishUnary(context, Rpc::kGetSnapshotFile, started, AdmissionTicket::ShuttingDown(),
                       {Rpc::kGetSnapshotFile});
  }
  absl::StatusOr<ArchiveRequest> file =
      deps_.resolver->CheckSnapshotFile(*context, request->snapshot(), request->file_name());
  if (!file.ok()) {
    return FinishUnary(context, Rpc::kGetSnapshotFile, started, file.status(),
                       {Rpc::kGetSnapshotFile});
  }
  absl::StatusOr<std::string> bytes =
      file->datastore->ref.upstream->ReadSnapshotFile(file->snapshot, file->archive);
  if (!bytes.ok()) {
    return FinishUnary(context, Rpc::kGetSnapshotFile, started, bytes.status(),
                       {Rpc::kGetSnapshotFile, &*file});
  }
  deps_.metrics->AddReadBytes(bytes->size());
  *response->mutable_data() = *std::move(bytes);
  return FinishUnary(context, Rpc::kGetSnapshotFile, started, absl::OkStatus(), {});
}

grpc::ServerUnaryReactor* ChunkCacheService::ListSnapshots(grpc::CallbackServerContext* context,
                                                           const v1::ListSnapshotsRequest* request,
                                                           v1::ListSnapshotsResponse* response) {
  const absl::Time started = absl::Now();
  const AdmissionTicket admission(deps_.admission);
  if (!admission.admitted()) {
    return FinishUnary(context, Rpc::kListSnapshots, started, AdmissionTicket::ShuttingDown(),
                       {Rpc::kListSnapshots});
  }
  absl::StatusOr<DatastoreRequest> datastore =
      deps_.resolver->CheckDatastore(*context, request->datastore(), "datastore");
  if (!datastore.ok()) {
    return FinishUnary(context, Rpc::kListSnapshots, started, datastore.status(),
                       {Rpc::kListSnapshots});
  }
  absl::StatusOr<std::vector<SnapshotName>> snapshots =
      datastore->datastore->ref.upstream->ListSnapshots();
  if (!snapshots.ok()) {
    return FinishUnary(context, Rpc::kListSnapshots, started, snapshots.status(),
                       {Rpc::kListSnapshots});
  }
  for (const SnapshotName& snapshot : *snapshots) {
    v1::SnapshotRef* ref = response->add_snapshots();
    ref->set_datastore(datastore->datastore->ref.name);
    ref->set_namespace_(absl::StrJoin(snapshot.namespace_components, "/"));
    ref->set_backup_type(snapshot.backup_type);
    ref->set_backup_id(snapshot.backup_id);
    ref->set_backup_time(snapshot.backup_time);
  }
  return FinishUnary(context, Rpc::kListSnapshots, started, absl::OkStatus(), {});
}

}  // namespace chunkcache
