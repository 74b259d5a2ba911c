// CallRecord: what every ChunkCache call keeps from its arrival to its answer, whatever its
// reactor (CallReactor for ReadRange, StreamRange and GetChunk; UpstreamCall for StatSnapshot,
// Prefetch, GetSnapshotFile and ListSnapshots): its admission, held for the call's whole life
// so that a draining server waits for it, and its start, so that the outcome is recorded with
// the call's duration.
//
//   CallRecord record(deps, Rpc::kStatSnapshot);  // first thing in the call
//   if (!record.admitted()) status = AdmissionTicket::ShuttingDown();
//   ...
//   record.Record(status.code());                 // once, when the call is answered
#ifndef CHUNKCACHE_SERVICE_CALL_RECORD_H_
#define CHUNKCACHE_SERVICE_CALL_RECORD_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/request_metrics.h"
#include "service/rpc_admission.h"
#include "service/service_deps.h"

namespace chunkcache {

class CallRecord {
 public:
  CallRecord(const ServiceDeps& deps, Rpc rpc)
      : metrics_(deps.metrics), rpc_(rpc), started_(absl::Now()), admission_(deps.admission) {}

  Rpc rpc() const { return rpc_; }
  // False while the server drains: the call is then answered AdmissionTicket::ShuttingDown().
  bool admitted() const { return admission_.admitted(); }
  // Counts the call's outcome and duration in RequestMetrics.
  void Record(absl::StatusCode code) const {
    metrics_->RecordRequest(rpc_, code, absl::Now() - started_);
  }

 private:
  RequestMetrics* const metrics_;
  const Rpc rpc_;
  const absl::Time started_;
  const AdmissionTicket admission_;  // counts the call in flight until it is destroyed
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CALL_RECORD_H_
