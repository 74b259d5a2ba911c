// GrpcUpstream: one datastore of another chunkcache, read over gRPC — the `grpc` upstream of
// DESIGN.md, for node → rack tiering. Chunks come from GetChunk, snapshot files from
// GetSnapshotFile, the listing from ListSnapshots, readability from the remote's
// grpc.health.v1 service (SERVING).
//
//   GrpcUpstreamOptions options{.target = "rack-a:7070", .datastore = "store1"};
//   options.bearer_token = "s3cret";                 // "authorization: Bearer s3cret"
//   options.ca_pem = ReadFile("/etc/chunkcache/rack-ca.pem");   // TLS, verifying the rack
//   absl::StatusOr<std::unique_ptr<GrpcUpstream>> upstream = GrpcUpstream::Create(options);
//
// ReadChunk passes the chunk's crypt mode, when the caller knows it (ChunkReadOptions), as
// GetChunkRequest.crypt_mode, so that the remote reads the chunk in that mode only. What
// GetChunk returns is the remote's verified plaintext in an uncompressed, unencrypted DataBlob,
// not the stored blob, and it is returned as received (DeliversPlaintext): the caller decodes
// and verifies it as any other (CRC, digest). A chunk of an encrypted archive has a keyed
// digest, SHA-256(plaintext ‖ id_key), which only the key's holder can compute: the caller
// checks it with its own key (BlobDecodeOptions::accept_verified_plaintext) instead of an AEAD
// tag. A lying remote cannot produce plaintext with the right digest, so what it sends is
// rejected by the caller's verification (DATA_LOSS, never cached).
//
// Errors follow upstream.h: NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE (remote down, shutting
// down, overloaded: retryable), DEADLINE_EXCEEDED (no answer within `timeout`). A remote
// DATA_LOSS stays DATA_LOSS; a remote refusing this node's credentials
// (UNAUTHENTICATED/PERMISSION_DENIED) is FAILED_PRECONDITION, a configuration problem to fix
// here rather than the caller's. Every message names the remote ("grpc rack-a:7070/store1").
//
// One channel (one HTTP/2 connection, reconnecting on its own) is shared by all calls; the
// channel connects lazily, so Create succeeds while the remote is down. Thread-safe.
#ifndef CHUNKCACHE_UPSTREAM_GRPC_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_GRPC_UPSTREAM_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/upstream.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace chunkcache {

inline constexpr double kDefaultRemoteTimeoutSeconds = 30;

struct GrpcUpstreamOptions {
  std::string target;        // "host:port", "[v6]:port" or "unix:/path"
  std::string datastore;     // the datastore's name on the remote
  std::string bearer_token;  // sent as "authorization: Bearer <token>"; empty: none
  std::string ca_pem;        // non-empty: TLS, verifying the remote against this CA
  std::string cert_pem;      // mTLS client certificate chain (needs ca_pem and key_pem)
  std::string key_pem;
  absl::Duration timeout = absl::Seconds(kDefaultRemoteTimeoutSeconds);  // per call
};

class GrpcUpstream final : public Upstream {
 public:
  // INVALID_ARGUMENT for a malformed target, an empty datastore name, a non-positive timeout,
  // a client certificate without its key (or the other way round) or without TLS.
  static absl::StatusOr<std::unique_ptr<GrpcUpstream>> Create(GrpcUpstreamOptions options);
  ~GrpcUpstream() override;

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override;
  // Sends options.crypt_mode as GetChunkRequest.crypt_mode when set.
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override;
  bool DeliversPlaintext() const override { return true; }
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override;
  absl::Status CheckReadable() override;
  std::string Describe() const override;  // "grpc HOST:PORT/DATASTORE"

 private:
  class Stub;
  GrpcUpstream(GrpcUpstreamOptions options, std::unique_ptr<Stub> stub);

  const GrpcUpstreamOptions options_;
  const std::unique_ptr<Stub> stub_;
};

// Checks a "host:port", "[v6]:port" or "unix:/path" target; INVALID_ARGUMENT naming `field`.
absl::Status ValidateGrpcTarget(std::string_view target, std::string_view field);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_GRPC_UPSTREAM_H_
