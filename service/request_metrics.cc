#include "service/request_metrics.h"

#include "service/status_mapping.h"

namespace chunkcache {
namespace {

constexpr std::array<Rpc, kRpcCount> kRpcs = {
    Rpc::kReadRange, Rpc::kStreamRange,     Rpc::kStatSnapshot, Rpc::kPrefetch,
    Rpc::kGetChunk,  Rpc::kGetSnapshotFile, Rpc::kListSnapshots};

// Seconds: from a hit served from memory (sub-millisecond) to a slow upstream or a long
// StreamRange.
prometheus::Histogram::BucketBoundaries RequestBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

prometheus::Histogram::BucketBoundaries FetchBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kReadRange:
      return "ReadRange";
    case Rpc::kStreamRange:
      return "StreamRange";
    case Rpc::kStatSnapshot:
      return "StatSnapshot";
    case Rpc::kPrefetch:
      return "Prefetch";
    case Rpc::kGetChunk:
      return "GetChunk";
    case Rpc::kGetSnapshotFile:
      return "GetSnapshotFile";
    case Rpc::kListSnapshots:
      return "ListSnapshots";
  }
  return "unknown";
}

RequestMetrics::RequestMetrics(const std::vector<std::string>& datastores)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("chunkcache_requests_total")
                    .Help("RPCs answered, by method and gRPC status code.")
                    .Register(*registry_)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("chunkcache_request_duration_seconds")
                            .Help("Time from receiving an RPC to finishing it, by method.")
                            .Register(*registry_)),
      read_bytes_family_(
          prometheus::BuildCounter()
              .Name("chunkcache_read_bytes_total")
              .Help("Archive bytes returned to clients by ReadRange and StreamRange.")
              .Register(*registry_)),
      fetch_duration_(prometheus::BuildHistogram()
                          .Name("chunkcache_upstream_fetch_duration_seconds")
                          .Help("Time to read and decode one chunk from its upstream.")
                          .Register(*registry_)),
      read_bytes_(read_bytes_family_.Add({})) {
  for (Rpc rpc : kRpcs) {
    const std::string name(RpcName(rpc));
    request_duration_by_rpc_[static_cast<size_t>(rpc)] =
        &request_duration_.Add({{"rpc", name}}, RequestBuckets());
    // Every method shows up at 0 before its first call.
    RequestCounter(rpc, absl::StatusCode::kOk);
  }
  for (const std::string& datastore : datastores) {
    fetch_duration_by_datastore_[datastore] =
        &fetch_duration_.Add({{"datastore", datastore}}, FetchBuckets());
  }
}

prometheus::Counter& RequestMetrics::RequestCounter(Rpc rpc, absl::StatusCode code) {
  size_t code_index = static_cast<size_t>(code);
  if (code_index >= kCodeCount) code_index = static_cast<size_t>(absl::StatusCode::kUnknown);
  std::atomic<prometheus::Counter*>& slot = requests_by_code_[static_cast<size_t>(rpc)][code_index];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &requests_.Add(
        {{"rpc", std::string(RpcName(rpc))},
         {"code", std::string(StatusCodeName(static_cast<absl::StatusCode>(code_index)))}});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void RequestMetrics::RecordRequest(Rpc rpc, absl::StatusCode code, absl::Duration duration) {
  RequestCounter(rpc, code).Increment();
  request_duration_by_rpc_[static_cast<size_t>(rpc)]->Observe(absl::ToDoubleSeconds(duration));
}

void RequestMetrics::AddReadBytes(uint64_t bytes) {
  read_bytes_.Increment(static_cast<double>(bytes));
}

void RequestMetrics::OnUpstreamFetch(std::string_view datastore, FetchResult /*result*/,
                                     absl::Duration duration, uint64_t /*raw_bytes*/) {
  auto it = fetch_duration_by_datastore_.find(std::string(datastore));
  if (it == fetch_duration_by_datastore_.end()) return;
  it->second->Observe(absl::ToDoubleSeconds(duration));
}

}  // namespace chunkcache
