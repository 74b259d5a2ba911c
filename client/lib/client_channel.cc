#include "client/lib/client_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

// PEM files are small; anything this large is not one.
constexpr std::streamoff kMaxPemFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string reason = std::strerror(error);
    if (error == ENOENT) {
      return absl::NotFoundError(absl::StrCat(what, " file ", path, " does not exist"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", what, " file ", path, ": ", reason));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string bytes = std::move(text).str();
  if (bytes.empty() || static_cast<std::streamoff>(bytes.size()) > kMaxPemFileBytes ||
      bytes.find("-----BEGIN ") == std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(what, " file ", path, " is not a PEM file"));
  }
  return bytes;
}

}  // namespace

absl::Status ValidateClientOptions(const ClientOptions& options) {
  if (options.server_address.empty()) {
    return absl::InvalidArgumentError("no server address given (host:port)");
  }
  const bool any_tls_file = !options.ca_cert_file.empty() || !options.client_cert_file.empty() ||
                            !options.client_key_file.empty() || !options.tls_server_name.empty();
  if (any_tls_file && !options.use_tls) {
    return absl::InvalidArgumentError(
        "a CA, client certificate, key or TLS server name was given but TLS is off; enable TLS");
  }
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "mutual TLS needs both a client certificate and its private key");
  }
  for (char c : options.bearer_token) {
    // gRPC only carries printable ASCII in text metadata; a stray newline from a token file
    // would otherwise fail every call with an obscure error.
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "the bearer token contains a control or non-ASCII character");
    }
  }
  if (options.rpc_deadline.count() <= 0) {
    return absl::InvalidArgumentError("the RPC deadline must be positive");
  }
  if (options.max_read_bytes == 0 ||
      options.max_read_bytes > static_cast<uint64_t>(kMaxReceiveMessageBytes) / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_read_bytes must be in 1..", kMaxReceiveMessageBytes / 2));
  }
  if (options.retry.max_attempts < 1) {
    return absl::InvalidArgumentError("the retry policy needs at least one attempt");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(const ClientOptions& options) {
  if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) return valid;

  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_cert_file.empty()) {
      absl::StatusOr<std::string> ca = ReadPemFile(options.ca_cert_file, "CA certificate");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.client_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadPemFile(options.client_cert_file, "client certificate");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPemFile(options.client_key_file, "client key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server_address, credentials, arguments);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a channel to ", options.server_address));
  }
  return channel;
}

void CallSetup::Prepare(grpc::ClientContext* context, bool with_deadline) const {
  if (with_deadline) context->set_deadline(std::chrono::system_clock::now() + rpc_deadline_);
  if (!bearer_token_.empty()) context->AddMetadata("authorization", "Bearer " + bearer_token_);
}

}  // namespace chunkcache
