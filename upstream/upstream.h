// Upstream: where chunkcache gets index files, manifests and raw chunk blobs from — one
// datastore (a PBS datastore directory, another chunkcache, or a test wrapper).
//
// Every implementation returns DataBlob and file bytes that the caller decodes and verifies
// (format/) as if it had read them from disk, never bytes the caller is asked to trust: a
// datastore returns them exactly as stored; a grpc upstream (another chunkcache) returns the
// chunk's verified plaintext in an unencrypted, uncompressed blob (DeliversPlaintext), which
// for a chunk of an encrypted archive the caller checks against its keyed digest
// (BlobDecodeOptions::accept_verified_plaintext), every other check unchanged. Implementations
// are safe to call from many threads at once, and every one runs the conformance suite in
// tests/upstream/upstream_conformance.h.
//
// Error codes: INVALID_ARGUMENT (a name that is not a valid PBS name), NOT_FOUND (snapshot,
// file or chunk absent), UNAVAILABLE (transient: I/O error, upstream down; retryable),
// DEADLINE_EXCEEDED (the upstream did not answer in time).
#ifndef CHUNKCACHE_UPSTREAM_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_UPSTREAM_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/blob.h"
#include "format/digest.h"
#include "format/snapshot_name.h"

namespace chunkcache {

// What the caller knows about a chunk it reads.
struct ChunkReadOptions {
  // The crypt mode of the archive that names the chunk (from its manifest), when known. A grpc
  // upstream passes it on, so that the remote reads the chunk in that mode only; without it a
  // remote with a key tries encrypted, then plain. A datastore has no use for it: the stored
  // blob's magic says. A wrong mode may make the read fail (DATA_LOSS), never return another
  // chunk.
  std::optional<CryptMode> crypt_mode;
  // The snapshot and archive whose index names the chunk, when known. A PBS server (reader
  // protocol) serves a chunk only in a session of a snapshot whose downloaded index references
  // it, so a pbs upstream needs them; a datastore or memory upstream ignores them, and a grpc
  // upstream passes them on. A chunk is the same bytes whichever snapshot names it: the cache
  // still fetches each digest once.
  std::optional<SnapshotName> snapshot;
  std::string archive;  // e.g. "drive-scsi0.img.fidx"; empty when unknown
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  // Raw bytes of a file in a snapshot directory: "index.json.blob", an index ("*.fidx",
  // "*.didx") or a blob file. `file_name` is validated (ValidateArchiveName or the manifest
  // name) before anything is opened.
  virtual absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                                       std::string_view file_name) = 0;

  // Raw DataBlob bytes of the chunk named `digest` (overrides repeat the default argument).
  // An upstream that needs options.snapshot (pbs) fails without it only when it cannot find
  // an open snapshot that references the chunk.
  virtual absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                                const ChunkReadOptions& options = {}) = 0;

  // True when ReadChunk returns verified plaintext in unencrypted blobs rather than the stored
  // blobs, also for chunks of encrypted archives (another chunkcache). Only then may the caller
  // accept a plain blob for an encrypted chunk, checked by its keyed digest. False for a
  // datastore, whose encrypted archives' chunks must be stored encrypted.
  virtual bool DeliversPlaintext() const { return false; }

  // The snapshots this upstream holds (all namespaces), for verify and listing tools.
  virtual absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() = 0;

  // OK when the upstream can be read now (health checks); cheap.
  virtual absl::Status CheckReadable() = 0;

  // A short description for logs: "datastore /srv/pbs", "grpc node-a:7070".
  virtual std::string Describe() const = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_UPSTREAM_H_
