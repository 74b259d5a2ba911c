// TLS for NBD_OPT_STARTTLS with OpenSSL 3, on non-blocking sockets driven by an EventLoop.
//
// NbdTlsContext is the server's certificate, key and (optionally) the CA that client
// certificates must chain to — the files the gRPC side uses (service/server_settings.h).
// TlsSession is one connection's TLS state after STARTTLS: every call returns at once, and
// kWantRead / kWantWrite say which socket event to wait for before calling again (OpenSSL's
// SSL_ERROR_WANT_READ/WRITE). Writes take the caller's bytes as they are (arena slices: the
// only copy is OpenSSL's encryption into its record buffer), and a write that could not finish
// must be retried with the same bytes, as OpenSSL requires.
//
//   absl::StatusOr<std::shared_ptr<NbdTlsContext>> tls =
//       NbdTlsContext::Create({.cert_file = "server.pem", .key_file = "server.key",
//                              .client_ca_file = "ca.pem"});
//   TlsSession session(*tls, fd);
//   TlsIo step = session.Handshake();        // until kDone; then session.peer_subject()
//   TlsIo io = session.Read(buffer, sizeof(buffer), &got);
//   io = session.Write(data, size, &written);
//
// NbdTlsContext is immutable and thread-safe; a TlsSession belongs to one loop thread.
#ifndef CHUNKCACHE_NBD_TLS_SESSION_H_
#define CHUNKCACHE_NBD_TLS_SESSION_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace chunkcache::nbd {

struct NbdTlsFiles {
  std::filesystem::path cert_file;  // PEM chain, leaf first
  std::filesystem::path key_file;
  std::filesystem::path client_ca_file;  // empty: client certificates are not asked for
  bool require_client_cert = false;      // with client_ca_file: refuse clients without one
};

class NbdTlsContext {
 public:
  // FAILED_PRECONDITION naming the file that cannot be read or does not match.
  static absl::StatusOr<std::shared_ptr<NbdTlsContext>> Create(const NbdTlsFiles& files);
  ~NbdTlsContext();
  NbdTlsContext(const NbdTlsContext&) = delete;
  NbdTlsContext& operator=(const NbdTlsContext&) = delete;

 private:
  friend class TlsSession;
  explicit NbdTlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* const ctx_;
};

enum class TlsIo {
  kDone,       // the step finished (Read/Write: *count bytes moved; 0 only for a 0-byte call)
  kWantRead,   // call again once the socket is readable
  kWantWrite,  // call again once the socket is writable
  kClosed,     // the peer closed the TLS session (Read)
  kError,      // the session is broken: drop the connection (error() says why)
};

class TlsSession {
 public:
  // Takes no ownership of `fd`; the context must outlive the session.
  TlsSession(const std::shared_ptr<NbdTlsContext>& context, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  TlsIo Handshake();
  TlsIo Read(char* buffer, size_t size, size_t* got);
  TlsIo Write(const char* data, size_t size, size_t* written);
  // Decrypted bytes (or a record) OpenSSL holds that the socket will not signal again.
  bool HasPending() const;
  // Best effort close_notify; never blocks.
  void Shutdown();

  // After the handshake: the subject of the client's verified certificate, as gRPC writes it
  // (RFC 2253, "CN=node-a,O=example"); empty when the client sent none.
  const std::string& peer_subject() const { return peer_subject_; }
  const std::string& error() const { return error_; }

 private:
  TlsIo Classify(int result, const char* what);

  const std::shared_ptr<NbdTlsContext> context_;
  SSL* ssl_ = nullptr;
  std::string peer_subject_;
  std::string error_;
  bool broken_ = false;  // a fatal error: OpenSSL forbids SSL_shutdown after one
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_TLS_SESSION_H_
