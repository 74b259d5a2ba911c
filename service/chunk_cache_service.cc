#include "service/chunk_cache_service.h"

#include <vector>

#include "absl/strings/str_join.h"
#include "service/call_reactor.h"
#include "service/call_record.h"
#include "service/get_chunk_reactor.h"
#include "service/read_range_reactor.h"
#include "service/rpc_admission.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"
#include "service/stream_range_reactor.h"

namespace chunkcache {
namespace {

// A unary call answered in its handler, on the gRPC thread (StatSnapshot, Prefetch,
// GetSnapshotFile, ListSnapshots): admitted for as long as the handler runs, and finished
// through the context's default reactor with its outcome recorded in RequestMetrics and a
// failure logged. The asynchronous calls have their own reactors (call_reactor.h).
class InlineCall {
 public:
  InlineCall(const ServiceDeps& deps, grpc::CallbackServerContext* context, Rpc rpc)
      : context_(context), record_(deps, rpc) {}

  // False while the server drains: then Finish(AdmissionTicket::ShuttingDown()).
  bool admitted() const { return record_.admitted(); }

  // `request` and `session` name what a failed call was about, as far as it got.
  grpc::ServerUnaryReactor* Finish(const absl::Status& status,
                                   const ArchiveRequest* request = nullptr,
                                   const SnapshotSession* session = nullptr) {
    record_.Record(status.code());
    if (!status.ok()) LogRpcFailure({record_.rpc(), request, session}, status);
    grpc::ServerUnaryReactor* reactor = context_->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

 private:
  grpc::CallbackServerContext* const context_;
  const CallRecord record_;  // counts the call in flight until the handler returns
};

}  // namespace

grpc::ServerUnaryReactor* ChunkCacheService::ReadRange(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return StartCall<ReadRangeReactor>(*request, deps_, context, response);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ChunkCacheService::StreamRange(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return StartCall<StreamRangeReactor>(*request, deps_, context);
}

grpc::ServerUnaryReactor* ChunkCacheService::GetChunk(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return StartCall<GetChunkReactor>(*request, deps_, context, response);
}

grpc::ServerUnaryReactor* ChunkCacheService::StatSnapshot(grpc::CallbackServerContext* context,
                                                          const v1::StatSnapshotRequest* request,
                                                          v1::SnapshotInfo* response) {
  InlineCall call(deps_, context, Rpc::kStatSnapshot);
  if (!call.admitted()) return call.Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) return call.Finish(archive.status());
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*archive);
  if (!session.ok()) return call.Finish(session.status(), &*archive);
  const SnapshotStats stats = (*session)->Stats();
  response->set_size(stats.size);
  response->set_chunk_size(stats.chunk_size);
  response->set_chunk_count(stats.chunk_count);
  response->set_distinct_chunks(stats.distinct_chunks);
  response->set_crypt_mode(stats.crypt_mode);
  response->set_hinted_chunks(stats.hinted_chunks);
  response->set_cached_bytes(stats.cached_bytes);
  response->set_index_csum(stats.index_csum);
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* ChunkCacheService::Prefetch(grpc::CallbackServerContext* context,
                                                      const v1::PrefetchRequest* request,
                                                      v1::PrefetchResponse* response) {
  InlineCall call(deps_, context, Rpc::kPrefetch);
  if (!call.admitted()) return call.Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) return call.Finish(archive.status());
  if (request->ranges().empty()) {
    return call.Finish(absl::InvalidArgumentError("ranges: name at least one byte range"),
                       &*archive);
  }
  absl::StatusOr<std::shared_ptr<SnapshotSession>> session = deps_.resolver->Open(*archive);
  if (!session.ok()) return call.Finish(session.status(), &*archive);
  std::vector<ByteRange> ranges;
  ranges.reserve(request->ranges_size());
  for (const v1::ByteRange& range : request->ranges()) {
    ranges.push_back(ByteRange{range.offset(), range.length()});
  }
  absl::StatusOr<PrefetchCounts> counts = (*session)->Prefetch(ranges);
  if (!counts.ok()) return call.Finish(counts.status(), &*archive, session->get());
  response->set_chunks_requested(counts->chunks_requested);
  response->set_chunks_already_cached(counts->chunks_already_cached);
  return call.Finish(absl::OkStatus());
}

// Reads the file on the gRPC thread, as Open reads an index: files are small next to chunks.
grpc::ServerUnaryReactor* ChunkCacheService::GetSnapshotFile(
    grpc::CallbackServerContext* context, const v1::GetSnapshotFileRequest* request,
    v1::GetSnapshotFileResponse* response) {
  InlineCall call(deps_, context, Rpc::kGetSnapshotFile);
  if (!call.admitted()) return call.Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> file =
      deps_.resolver->CheckSnapshotFile(*context, request->snapshot(), request->file_name());
  if (!file.ok()) return call.Finish(file.status());
  absl::StatusOr<std::string> bytes =
      file->datastore->ref.upstream->ReadSnapshotFile(file->snapshot, file->archive);
  if (!bytes.ok()) return call.Finish(bytes.status(), &*file);
  deps_.metrics->AddReadBytes(bytes->size());
  *response->mutable_data() = *std::move(bytes);
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* ChunkCacheService::ListSnapshots(grpc::CallbackServerContext* context,
                                                           const v1::ListSnapshotsRequest* request,
                                                           v1::ListSnapshotsResponse* response) {
  InlineCall call(deps_, context, Rpc::kListSnapshots);
  if (!call.admitted()) return call.Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<DatastoreRequest> datastore =
      deps_.resolver->CheckDatastore(*context, request->datastore(), "datastore");
  if (!datastore.ok()) return call.Finish(datastore.status());
  absl::StatusOr<std::vector<SnapshotName>> snapshots =
      datastore->datastore->ref.upstream->ListSnapshots();
  if (!snapshots.ok()) return call.Finish(snapshots.status());
  for (const SnapshotName& snapshot : *snapshots) {
    v1::SnapshotRef* ref = response->add_snapshots();
    ref->set_datastore(datastore->datastore->ref.name);
    ref->set_namespace_(absl::StrJoin(snapshot.namespace_components, "/"));
    ref->set_backup_type(snapshot.backup_type);
    ref->set_backup_id(snapshot.backup_id);
    ref->set_backup_time(snapshot.backup_time);
  }
  return call.Finish(absl::OkStatus());
}

}  // namespace chunkcache
