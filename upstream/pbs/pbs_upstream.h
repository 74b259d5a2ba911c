// PbsUpstream: a datastore on a Proxmox Backup Server, read over its reader protocol (TLS,
// the /api2/json/reader upgrade, HTTP/2; shared/spec/pbs-reader-protocol.md) with an API token
// or a user's password. Nothing needs to be installed on the server.
//
// One reader session per snapshot (pbs_reader_session.h), opened on first use and closed
// after `session_idle_timeout` or when `max_sessions` are open and another snapshot is read
// (the least recently used goes). A chunk is read in the session of the snapshot it is read
// for (ChunkReadOptions::snapshot; without one, any open session whose indexes reference it).
//
// ListSnapshots uses GET /api2/json/admin/datastore/{store}/namespace and .../snapshots?ns=,
// which need Datastore.Audit (or Datastore.Read; with only Datastore.Backup PBS lists the
// groups the auth id owns) on the datastore. CheckReadable is an authenticated
// GET /api2/json/version, cached for `health_cache`.
//
//   absl::StatusOr<std::unique_ptr<PbsUpstream>> upstream = PbsUpstream::Create(options);
//   absl::StatusOr<std::string> manifest =
//       (*upstream)->ReadSnapshotFile(snapshot, "index.json.blob");
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_UPSTREAM_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "upstream/pbs/pbs_api_client.h"
#include "upstream/pbs/pbs_counters.h"
#include "upstream/pbs/pbs_options.h"
#include "upstream/pbs/pbs_reader_session.h"
#include "upstream/upstream.h"

namespace chunkcache {

class PbsUpstream final : public Upstream {
 public:
  // INVALID_ARGUMENT for bad options; connects to nothing yet.
  static absl::StatusOr<std::unique_ptr<PbsUpstream>> Create(const PbsUpstreamOptions& options);

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override;
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override;
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override;
  absl::Status CheckReadable() override;
  std::string Describe() const override;  // "pbs https://host:8007/store as user@realm!token"

  const PbsUpstreamCounters& counters() const { return *counters_; }

 private:
  PbsUpstream(PbsUpstreamOptions options, std::unique_ptr<PbsUpstreamCounters> counters);
  std::shared_ptr<PbsReaderSession> SessionFor(const SnapshotName& snapshot);
  std::shared_ptr<PbsReaderSession> SessionReferencing(const ChunkDigest& digest);
  absl::StatusOr<std::vector<std::string>> ListNamespaces(absl::Time deadline);

  const PbsUpstreamOptions options_;
  const std::unique_ptr<PbsUpstreamCounters> counters_;
  std::unique_ptr<PbsApiClient> api_;

  std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<PbsReaderSession>> sessions_
      ABSL_GUARDED_BY(mu_);  // by snapshot directory
  absl::Time health_checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status health_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_UPSTREAM_H_
