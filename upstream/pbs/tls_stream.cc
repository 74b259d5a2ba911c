#include "upstream/pbs/tls_stream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

constexpr size_t kTlsReadBufferBytes = 256 << 10;
constexpr char kTls13CipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::string OpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text.append("; ");
    text.append(buffer);
  }
  return text.empty() ? "no OpenSSL error queued" : text;
}

bool IsIpAddress(const std::string& host) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

int MillisUntil(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
}

// A connected non-blocking TCP socket to `endpoint`, or UNAVAILABLE / DEADLINE_EXCEEDED.
absl::StatusOr<int> ConnectTcp(const PbsEndpoint& endpoint, absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", endpoint.host, ": ", gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      rc = -1;
      errno = ETIMEDOUT;
      while (absl::Now() < deadline) {
        const int ready = poll(&pfd, 1, MillisUntil(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready > 0) {
          int error = 0;
          socklen_t length = sizeof(error);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
          rc = error == 0 ? 0 : -1;
          errno = error;
        }
        break;
      }
    }
    if (rc == 0) {
      freeaddrinfo(found);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      const int idle = 120;  // as PBS's client and proxy (spec §2.1)
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
      return fd;
    }
    last_error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("connecting to ", endpoint.HostPort(), " timed out"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to ", endpoint.HostPort(), ": ", last_error));
}

}  // namespace

std::string FormatCertificateFingerprint(std::string_view der) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(der.data(), der.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) text.push_back(':');
    text.push_back(kHex[digest[i] >> 4]);
    text.push_back(kHex[digest[i] & 15]);
  }
  return text;
}

absl::StatusOr<std::shared_ptr<TlsClientContext>> TlsClientContext::Create(
    const std::string& ca_pem, const std::string& fingerprint) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslErrors()));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // TLS 1.3 with AES-128-GCM first: every chunk byte is decrypted, and AES-128 is the cheaper
  // AEAD (about 9 % here against AES-256-GCM, which OpenSSL offers first by default). PBS's
  // proxy (rust-openssl's mozilla_intermediate_v5 acceptor: this list, in this order, and no
  // server preference) lets the client's order decide, so it negotiates the first of these.
  SSL_CTX_set_ciphersuites(ctx, kTls13CipherSuites);
  // Read ahead into a large buffer: one recv takes many TLS records instead of two recvs (the
  // header, then the rest) for each 16 KiB record, and the fewer, larger reads send fewer ACKs
  // and window updates. Chunks come as 4 MiB bodies, so this is most of the socket traffic.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kTlsReadBufferBytes);
  // The handshake never fails on the certificate by itself: Connect checks the verification
  // result and the fingerprint afterwards, so that an error can name both fingerprints.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  const bool verify_chain = !ca_pem.empty() || fingerprint.empty();
  if (!ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      added += X509_STORE_add_cert(store, cert);
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (added == 0) {
      SSL_CTX_free(ctx);
      return absl::InvalidArgumentError("ca_file holds no PEM certificate");
    }
  } else if (verify_chain) {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  return std::shared_ptr<TlsClientContext>(new TlsClientContext(ctx, fingerprint, verify_chain));
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Connect(
    const std::shared_ptr<TlsClientContext>& context, const PbsEndpoint& endpoint,
    absl::Time deadline) {
  absl::StatusOr<int> fd = ConnectTcp(endpoint, deadline);
  if (!fd.ok()) return fd.status();
  SSL* ssl = SSL_new(context->ssl_ctx());
  if (ssl == nullptr) {
    close(*fd);
    return absl::InternalError(absl::StrCat("SSL_new: ", OpenSslErrors()));
  }
  std::unique_ptr<TlsStream> stream(new TlsStream(*fd, ssl, endpoint.HostPort()));
  SSL_set_fd(ssl, *fd);
  const bool ip = IsIpAddress(endpoint.host);
  if (!ip) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
  if (context->verify_chain()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), 0);
    }
  }
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl);
    if (rc == 1) break;
    const int error = SSL_get_error(ssl, rc);
    absl::Status waited;
    if (error == SSL_ERROR_WANT_READ) {
      waited = stream->WaitFor(true, deadline);
    } else if (error == SSL_ERROR_WANT_WRITE) {
      waited = stream->WaitFor(false, deadline);
    } else {
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", stream->peer(), " failed: ", OpenSslErrors()));
    }
    if (!waited.ok()) {
      return absl::Status(waited.code(), absl::StrCat("TLS handshake with ", stream->peer(), ": ",
                                                      waited.message()));
    }
  }
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) {
    return absl::UnavailableError(absl::StrCat(stream->peer(), " sent no certificate"));
  }
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(leaf, &der);
  const std::string actual = FormatCertificateFingerprint(
      std::string_view(reinterpret_cast<const char*>(der), der_length > 0 ? der_length : 0));
  OPENSSL_free(der);
  if (!context->fingerprint().empty() && actual != context->fingerprint()) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate fingerprint mismatch for ", stream->peer(), ": expected ",
                     context->fingerprint(), ", the server presented ", actual));
  }
  if (context->verify_chain()) {
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "certificate of ", stream->peer(), " does not verify: ",
          X509_verify_cert_error_string(verdict), " (its SHA-256 fingerprint is ", actual,
          "; pin it with the fingerprint setting, or give the CA in ca_file)"));
    }
  }
  return stream;
}

TlsStream::~TlsStream() {
  // No close_notify: the reader protocol ends with a bare TCP close (spec §3.5).
  SSL_free(ssl_);
  close(fd_);
}

absl::Status TlsStream::WaitFor(bool readable, absl::Time deadline) {
  pollfd pfd{fd_, static_cast<short>(readable ? POLLIN : POLLOUT), 0};
  while (true) {
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("timed out");
    const int ready = poll(&pfd, 1, MillisUntil(deadline));
    if (ready > 0) return absl::OkStatus();
    if (ready < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    }
  }
}

TlsStream::Io TlsStream::Classify(int ret, size_t* done, size_t count) {
  if (ret > 0) {
    *done = count;
    return Io::kDone;
  }
  const int error = SSL_get_error(ssl_, ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
        last_error_ = errno == 0 ? "connection closed" : std::strerror(errno);
        return errno == 0 ? Io::kClosed : Io::kError;
      }
      last_error_ = std::strerror(errno);
      return Io::kError;
    default:
      last_error_ = OpenSslErrors();
      // A peer that closes without close_notify is a normal end here (spec §3.5).
      return last_error_.find("unexpected eof") != std::string::npos ? Io::kClosed : Io::kError;
  }
}

TlsStream::Io TlsStream::TryRead(char* buffer, size_t capacity, size_t* done) {
  ERR_clear_error();
  errno = 0;
  size_t count = 0;
  const int ret = SSL_read_ex(ssl_, buffer, capacity, &count);
  return Classify(ret, done, count);
}

TlsStream::Io TlsStream::TryWrite(const char* data, size_t size, size_t* done) {
  ERR_clear_error();
  errno = 0;
  size_t count = 0;
  const int ret = SSL_write_ex(ssl_, data, size, &count);
  return Classify(ret, done, count);
}

absl::Status TlsStream::WriteAll(std::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    size_t done = 0;
    const Io io = TryWrite(data.data(), data.size(), &done);
    if (io == Io::kDone) {
      data.remove_prefix(done);
      continue;
    }
    if (io == Io::kWantRead || io == Io::kWantWrite) {
      absl::Status waited = WaitFor(io == Io::kWantRead, deadline);
      if (!waited.ok()) {
        return absl::Status(waited.code(),
                            absl::StrCat("writing to ", peer_, ": ", waited.message()));
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat(
        "writing to ", peer_, ": ", io == Io::kClosed ? "connection closed" : last_error_));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> TlsStream::ReadSome(char* buffer, size_t capacity, absl::Time deadline) {
  while (true) {
    size_t done = 0;
    const Io io = TryRead(buffer, capacity, &done);
    if (io == Io::kDone) return done;
    if (io == Io::kClosed) return 0;
    if (io == Io::kWantRead || io == Io::kWantWrite) {
      absl::Status waited = WaitFor(io == Io::kWantRead, deadline);
      if (!waited.ok()) {
        return absl::Status(waited.code(),
                            absl::StrCat("reading from ", peer_, ": ", waited.message()));
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat("reading from ", peer_, ": ", last_error_));
  }
}

}  // namespace chunkcache
