#include "service/chunk_cache_service.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/call_reactor.h"
#include "service/call_record.h"
#include "service/get_chunk_reactor.h"
#include "service/read_range_reactor.h"
#include "service/rpc_admission.h"
#include "service/rpc_event_log.h"
#include "service/status_mapping.h"
#include "service/stream_range_reactor.h"
#include "service/upstream_call.h"

namespace chunkcache {
namespace {

// StatSnapshot answers an open archive with at most this many distinct chunks on the gRPC
// thread: SnapshotSession::Stats costs one cache lookup per distinct chunk (a 1 TiB image has
// 262144), and bigger archives take a turn on the BlockingPool instead.
constexpr size_t kInlineStatsChunks = 4096;

void FillSnapshotInfo(const SnapshotStats& stats, v1::SnapshotInfo* response) {
  response->set_size(stats.size);
  response->set_chunk_size(stats.chunk_size);
  response->set_chunk_count(stats.chunk_count);
  response->set_distinct_chunks(stats.distinct_chunks);
  response->set_crypt_mode(stats.crypt_mode);
  response->set_hinted_chunks(stats.hinted_chunks);
  response->set_cached_bytes(stats.cached_bytes);
  response->set_index_csum(stats.index_csum);
}

absl::Status PrefetchRanges(SnapshotSession& session, std::vector<ByteRange> ranges,
                            v1::PrefetchResponse* response) {
  absl::StatusOr<PrefetchCounts> counts = session.Prefetch(ranges);
  if (!counts.ok()) return counts.status();
  response->set_chunks_requested(counts->chunks_requested);
  response->set_chunks_already_cached(counts->chunks_already_cached);
  response->set_chunks_dropped(counts->chunks_dropped);
  return absl::OkStatus();
}

}  // namespace

ChunkCacheService::ChunkCacheService(ServiceDeps deps, size_t upstream_call_threads,
                                     size_t max_queued_upstream_calls)
    : pool_(upstream_call_threads, max_queued_upstream_calls),
      opener_(deps.resolver, &pool_),
      deps_([&] {
        deps.pool = &pool_;
        deps.opener = &opener_;
        return std::move(deps);
      }()) {}

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
  auto* call = new UpstreamCall(deps_, context, Rpc::kStatSnapshot);
  if (!call->admitted()) return call->Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) return call->Finish(archive.status());
  call->request = *archive;
  if (std::shared_ptr<SnapshotSession> open = deps_.resolver->FindOpen(*archive)) {
    call->session = open;
    if (open->distinct_chunks() <= kInlineStatsChunks) {
      FillSnapshotInfo(open->Stats(), response);
      return call->Finish(absl::OkStatus());
    }
    return call->Run<SnapshotStats>(
        [open]() -> absl::StatusOr<SnapshotStats> { return open->Stats(); },
        [response](SnapshotStats stats) {
          FillSnapshotInfo(stats, response);
          return absl::OkStatus();
        });
  }
  // The open runs on the pool, and so does `apply`.
  return call->RunOpen(*archive, [call, response](std::shared_ptr<SnapshotSession> session) {
    call->session = session;
    FillSnapshotInfo(session->Stats(), response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChunkCacheService::Prefetch(grpc::CallbackServerContext* context,
                                                      const v1::PrefetchRequest* request,
                                                      v1::PrefetchResponse* response) {
  auto* call = new UpstreamCall(deps_, context, Rpc::kPrefetch);
  if (!call->admitted()) return call->Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> archive = deps_.resolver->Check(*context, request->snapshot());
  if (!archive.ok()) return call->Finish(archive.status());
  call->request = *archive;
  if (request->ranges().empty()) {
    return call->Finish(absl::InvalidArgumentError("ranges: name at least one byte range"));
  }
  if (static_cast<size_t>(request->ranges_size()) > deps_.max_prefetch_ranges) {
    return call->Finish(absl::InvalidArgumentError(
        absl::StrCat("ranges: ", request->ranges_size(), " ranges; at most ",
                     deps_.max_prefetch_ranges, " per call: merge adjacent ranges")));
  }
  std::vector<ByteRange> ranges;
  ranges.reserve(request->ranges_size());
  for (const v1::ByteRange& range : request->ranges()) {
    ranges.push_back(ByteRange{range.offset(), range.length()});
  }
  if (std::shared_ptr<SnapshotSession> open = deps_.resolver->FindOpen(*archive)) {
    call->session = open;
    return call->Finish(PrefetchRanges(*open, std::move(ranges), response));
  }
  return call->RunOpen(*archive, [call, response, ranges = std::move(ranges)](
                                     std::shared_ptr<SnapshotSession> session) {
    call->session = session;
    return PrefetchRanges(*session, std::move(ranges), response);
  });
}

// Reads the file on a worker of the BlockingPool: a slow upstream holds no gRPC thread.
grpc::ServerUnaryReactor* ChunkCacheService::GetSnapshotFile(
    grpc::CallbackServerContext* context, const v1::GetSnapshotFileRequest* request,
    v1::GetSnapshotFileResponse* response) {
  auto* call = new UpstreamCall(deps_, context, Rpc::kGetSnapshotFile);
  if (!call->admitted()) return call->Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<ArchiveRequest> file =
      deps_.resolver->CheckSnapshotFile(*context, request->snapshot(), request->file_name());
  if (!file.ok()) return call->Finish(file.status());
  call->request = *file;
  return call->Run<std::string>(
      [upstream = file->datastore->ref.upstream, snapshot = file->snapshot, name = file->archive] {
        return upstream->ReadSnapshotFile(snapshot, name);
      },
      [this, response](std::string bytes) {
        deps_.metrics->AddReadBytes(bytes.size());
        *response->mutable_data() = std::move(bytes);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ChunkCacheService::ListSnapshots(grpc::CallbackServerContext* context,
                                                           const v1::ListSnapshotsRequest* request,
                                                           v1::ListSnapshotsResponse* response) {
  auto* call = new UpstreamCall(deps_, context, Rpc::kListSnapshots);
  if (!call->admitted()) return call->Finish(AdmissionTicket::ShuttingDown());
  absl::StatusOr<DatastoreRequest> datastore =
      deps_.resolver->CheckDatastore(*context, request->datastore(), "datastore");
  if (!datastore.ok()) return call->Finish(datastore.status());
  const DatastoreRef& ref = datastore->datastore->ref;
  return call->Run<std::vector<SnapshotName>>(
      [upstream = ref.upstream] { return upstream->ListSnapshots(); },
      [response, name = ref.name](std::vector<SnapshotName> snapshots) {
        for (const SnapshotName& snapshot : snapshots) {
          v1::SnapshotRef* ref = response->add_snapshots();
          ref->set_datastore(name);
          ref->set_namespace_(absl::StrJoin(snapshot.namespace_components, "/"));
          ref->set_backup_type(snapshot.backup_type);
          ref->set_backup_id(snapshot.backup_id);
          ref->set_backup_time(snapshot.backup_time);
        }
        return absl::OkStatus();
      });
}

void ChunkCacheService::Shutdown() { pool_.Shutdown(); }

}  // namespace chunkcache
