#include "nbd/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chunkcache::nbd {
namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no OpenSSL error reported";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with write(2), which raises
// SIGPIPE when the client has gone; chunkcached must not die of a client hanging up.
int SocketOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int BioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t sent;
  do {
    sent = send(SocketOf(bio), data, static_cast<size_t>(size), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
  return static_cast<int>(sent);
}

int BioRead(BIO* bio, char* buffer, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t got;
  do {
    got = recv(SocketOf(bio), buffer, static_cast<size_t>(size), MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
  return static_cast<int>(got);
}

long BioCtrl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* NoSignalSocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nbd socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

}  // namespace

absl::StatusOr<std::shared_ptr<NbdTlsContext>> NbdTlsContext::Create(const NbdTlsFiles& files) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + OpenSslError());
  std::shared_ptr<NbdTlsContext> context(new NbdTlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Partial writes: a write of a large slice returns what fit; the rest is retried from where
  // it stopped, with the queue's (stable) pointer.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("tls.cert_file: cannot use ", files.cert_file.string(), ": ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("tls.key_file: cannot use ",
                                                      files.key_file.string(),
                                                      " with tls.cert_file: ", OpenSslError()));
  }
  if (!files.client_ca_file.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return absl::FailedPreconditionError(absl::StrCat(
          "tls.client_ca_file: cannot use ", files.client_ca_file.string(), ": ", OpenSslError()));
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(
        ctx, SSL_VERIFY_PEER | (files.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        nullptr);
    // Resumed sessions keep their verified client; OpenSSL wants a context id for that.
    static const unsigned char kSessionContext[] = "chunkcache-nbd";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  }
  return context;
}

NbdTlsContext::~NbdTlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const std::shared_ptr<NbdTlsContext>& context, int fd) : context_(context) {
  ssl_ = SSL_new(context_->ctx_);
  if (ssl_ == nullptr) {
    error_ = "SSL_new: " + OpenSslError();
    return;
  }
  BIO* bio = BIO_new(NoSignalSocketMethod());
  if (bio == nullptr) {
    error_ = "BIO_new: " + OpenSslError();
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

TlsIo TlsSession::Classify(int result, const char* what) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return TlsIo::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsIo::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return TlsIo::kClosed;
    case SSL_ERROR_SYSCALL:
      broken_ = true;
      error_ = absl::StrCat(what, ": ", errno != 0 ? std::strerror(errno) : "connection closed");
      ERR_clear_error();
      return TlsIo::kError;
    default:
      broken_ = true;
      error_ = absl::StrCat(what, ": ", OpenSslError());
      return TlsIo::kError;
  }
}

TlsIo TlsSession::Handshake() {
  if (ssl_ == nullptr) return TlsIo::kError;
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(ssl_);
  if (result != 1) return Classify(result, "TLS handshake");
  if (X509* cert = SSL_get0_peer_certificate(ssl_);
      cert != nullptr && SSL_get_verify_result(ssl_) == X509_V_OK) {
    BIO* text = BIO_new(BIO_s_mem());
    if (text != nullptr &&
        X509_NAME_print_ex(text, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long length = BIO_get_mem_data(text, &data);
      peer_subject_.assign(data, static_cast<size_t>(length));
    }
    BIO_free(text);
  }
  return TlsIo::kDone;
}

TlsIo TlsSession::Read(char* buffer, size_t size, size_t* got) {
  *got = 0;
  if (ssl_ == nullptr) return TlsIo::kError;
  ERR_clear_error();
  errno = 0;
  if (SSL_read_ex(ssl_, buffer, size, got) == 1) return TlsIo::kDone;
  return Classify(0, "TLS read");
}

TlsIo TlsSession::Write(const char* data, size_t size, size_t* written) {
  *written = 0;
  if (ssl_ == nullptr) return TlsIo::kError;
  if (size == 0) return TlsIo::kDone;
  ERR_clear_error();
  errno = 0;
  if (SSL_write_ex(ssl_, data, size, written) == 1) return TlsIo::kDone;
  return Classify(0, "TLS write");
}

bool TlsSession::HasPending() const { return ssl_ != nullptr && SSL_has_pending(ssl_) == 1; }

void TlsSession::Shutdown() {
  if (ssl_ == nullptr || broken_ || !SSL_is_init_finished(ssl_)) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace chunkcache::nbd
