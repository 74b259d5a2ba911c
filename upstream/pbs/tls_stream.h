// TlsStream: one TCP + TLS connection to a PBS server, non-blocking underneath, with blocking
// helpers bounded by a deadline (for the HTTP/1.1 exchanges) and one-shot Try* calls (for the
// HTTP/2 event loop, h2_connection.h). TlsClientContext holds what every connection of one
// upstream shares: the OpenSSL context with its CAs, and the pinned fingerprint.
//
// Certificate check (spec §2.2): with a pinned fingerprint the leaf's SHA-256 must match it
// (and, when CAs are also given, the chain must verify too); without one the chain must
// verify against the CAs (or the system's) and name the host. A mismatch is
// FAILED_PRECONDITION naming both fingerprints; connection failures are UNAVAILABLE.
//
//   absl::StatusOr<std::shared_ptr<TlsClientContext>> tls =
//       TlsClientContext::Create(/*ca_pem=*/"", /*fingerprint=*/"aa:bb:...");
//   absl::StatusOr<std::unique_ptr<TlsStream>> stream =
//       TlsStream::Connect(*tls, {"pbs.example", 8007}, absl::Now() + absl::Seconds(10));
//   (*stream)->WriteAll("GET / HTTP/1.1\r\n...", deadline);
#ifndef CHUNKCACHE_UPSTREAM_PBS_TLS_STREAM_H_
#define CHUNKCACHE_UPSTREAM_PBS_TLS_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/pbs/pbs_options.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace chunkcache {

class TlsClientContext {
 public:
  // `fingerprint` is canonical ("aa:bb:...", NormalizeFingerprint) or empty.
  static absl::StatusOr<std::shared_ptr<TlsClientContext>> Create(const std::string& ca_pem,
                                                                  const std::string& fingerprint);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* ssl_ctx() const { return ctx_; }
  const std::string& fingerprint() const { return fingerprint_; }
  bool verify_chain() const { return verify_chain_; }

 private:
  TlsClientContext(SSL_CTX* ctx, std::string fingerprint, bool verify_chain)
      : ctx_(ctx), fingerprint_(std::move(fingerprint)), verify_chain_(verify_chain) {}
  SSL_CTX* ctx_;
  std::string fingerprint_;
  bool verify_chain_;
};

class TlsStream {
 public:
  enum class Io { kDone, kWantRead, kWantWrite, kClosed, kError };

  // TCP connect (TCP_NODELAY, keepalive), TLS handshake with SNI, certificate check.
  static absl::StatusOr<std::unique_ptr<TlsStream>> Connect(
      const std::shared_ptr<TlsClientContext>& context, const PbsEndpoint& endpoint,
      absl::Time deadline);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Blocking, bounded by `deadline` (DEADLINE_EXCEEDED), UNAVAILABLE on errors.
  absl::Status WriteAll(std::string_view data, absl::Time deadline);
  // Up to `capacity` bytes; 0 at the end of the stream.
  absl::StatusOr<size_t> ReadSome(char* buffer, size_t capacity, absl::Time deadline);

  // One attempt each, never blocking. `*done` is the byte count on kDone.
  Io TryRead(char* buffer, size_t capacity, size_t* done);
  Io TryWrite(const char* data, size_t size, size_t* done);
  // The last kError's description.
  const std::string& last_error() const { return last_error_; }

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }  // "host:port" for messages

 private:
  TlsStream(int fd, SSL* ssl, std::string peer) : fd_(fd), ssl_(ssl), peer_(std::move(peer)) {}
  Io Classify(int ret, size_t* done, size_t count);
  // Waits until the socket is readable (or writable) or the deadline passes.
  absl::Status WaitFor(bool readable, absl::Time deadline);

  int fd_;
  SSL* ssl_;
  std::string peer_;
  std::string last_error_;
};

// The SHA-256 of a DER certificate as "aa:bb:..." (what PBS shows as the fingerprint).
std::string FormatCertificateFingerprint(std::string_view der);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_TLS_STREAM_H_
