// PbsReaderSession: the reader session of one snapshot on a PBS server (spec §4.3): one
// HTTP/2 connection (reopened when lost), the indexes downloaded in it, and the chunk requests
// it serves. The server lets a session fetch only chunks referenced by an index downloaded in
// that very session, so every index this session has served is downloaded again in each new
// connection before its chunks are asked for, and a chunk is asked for only when one of its
// indexes references it (no probing: a 401 costs the server's 3 s delay).
//
// Faults: a lost connection, GOAWAY or RST_STREAM (UNAVAILABLE from H2Connection) reopens the
// session with backoff and sends the request again, until the deadline; 401 on /chunk
// downloads the index again once, then fails; 400 on /chunk (missing or unreadable on the
// server) is NOT_FOUND, logged with the digest.
//
//   PbsReaderSession session(api, snapshot, &counters);
//   absl::StatusOr<std::string> index =
//       session.Download("drive-scsi0.img.fidx", absl::Now() + absl::Seconds(30));
//   absl::StatusOr<std::string> blob =
//       session.ReadChunk(digest, "drive-scsi0.img.fidx", absl::Now() + absl::Seconds(30));
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_READER_SESSION_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_READER_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "format/digest.h"
#include "format/snapshot_name.h"
#include "upstream/pbs/h2_connection.h"
#include "upstream/pbs/pbs_api_client.h"
#include "upstream/pbs/pbs_counters.h"

namespace chunkcache {

class PbsReaderSession {
 public:
  // `api` and `counters` must outlive the session.
  PbsReaderSession(PbsApiClient* api, SnapshotName snapshot, absl::Duration request_timeout,
                   PbsUpstreamCounters* counters);

  // GET /download?file-name=`file_name` (validated by the caller). An index is remembered,
  // with its digests, for ReadChunk. 400 and 404 are NOT_FOUND.
  absl::StatusOr<std::string> Download(const std::string& file_name, absl::Time deadline);

  // The raw blob of `digest`, read for `archive` (an index of this snapshot; empty: any index
  // this session downloaded that references the digest).
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest, const std::string& archive,
                                        absl::Time deadline);

  // Whether an index this session downloaded references `digest`.
  bool References(const ChunkDigest& digest) const;

  absl::Time last_used() const;
  const SnapshotName& snapshot() const { return snapshot_; }

 private:
  struct Connection {
    std::shared_ptr<H2Connection> h2;
    uint64_t generation = 0;
  };
  struct IndexState {
    absl::flat_hash_set<ChunkDigest> digests;
    uint64_t registered_in = 0;  // the connection generation that downloaded it last
  };

  // The open connection, or a new one (one opener at a time).
  absl::StatusOr<Connection> Current(absl::Time deadline);
  void Drop(const Connection& broken);
  // One /download on `connection`; records an index's digests for `connection`.
  absl::StatusOr<std::string> DownloadOn(const Connection& connection, const std::string& file_name,
                                         absl::Time deadline);
  // Downloads `archive` again on `connection` unless it was already downloaded there.
  absl::Status RegisterIndex(const Connection& connection, const std::string& archive,
                             absl::Time deadline);
  // Sleeps before the next attempt; false when the deadline would pass first.
  bool Backoff(absl::Duration& delay, absl::Time deadline);
  std::string Where() const;

  PbsApiClient* const api_;
  const SnapshotName snapshot_;
  const absl::Duration request_timeout_;
  PbsUpstreamCounters* const counters_;

  std::mutex open_mu_;      // held while a connection is opened
  std::mutex register_mu_;  // held while an index is downloaded again
  mutable std::mutex mu_;
  std::shared_ptr<H2Connection> connection_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, IndexState> indexes_ ABSL_GUARDED_BY(mu_);
  absl::Time last_used_ ABSL_GUARDED_BY(mu_);
  // The size of the last chunk blob received: the body room a chunk request reserves in the
  // calling thread (H2Connection::Get).
  // Until one arrives, the blob of a 4 MiB chunk (what PBS writes for images) and its header.
  std::atomic<size_t> last_chunk_bytes_{(4 << 20) + 64};
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_READER_SESSION_H_
