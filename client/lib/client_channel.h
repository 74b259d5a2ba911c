// The gRPC channel to a chunkcached server, built from ClientOptions: plain or TLS/mTLS
// credentials from PEM files, and a receive limit large enough for max_read_bytes messages.
// Also CallSetup, which gives each call its deadline and bearer token.
//
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(options);
//   CallSetup setup(options);
//   grpc::ClientContext context;
//   setup.Prepare(&context);
#ifndef CHUNKCACHE_CLIENT_LIB_CLIENT_CHANNEL_H_
#define CHUNKCACHE_CLIENT_LIB_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/lib/client_options.h"

namespace chunkcache {

// Messages up to this size are accepted from the server (gRPC's default is 4 MiB, which a
// 4 MiB ReadRange answer plus its framing would exceed).
inline constexpr int kMaxReceiveMessageBytes = 64 << 20;

// INVALID_ARGUMENT for inconsistent options (TLS files without use_tls, a certificate
// without its key, an unprintable token); NOT_FOUND / FAILED_PRECONDITION for unreadable PEM
// files. Connecting is lazy: an unreachable server shows up as UNAVAILABLE on the first call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(const ClientOptions& options);

// Checks what CreateClientChannel checks without reading any file.
absl::Status ValidateClientOptions(const ClientOptions& options);

class CallSetup {
 public:
  explicit CallSetup(const ClientOptions& options)
      : rpc_deadline_(options.rpc_deadline), bearer_token_(options.bearer_token) {}

  // Adds the authorization metadata and, with `with_deadline`, the per-call deadline.
  void Prepare(grpc::ClientContext* context, bool with_deadline = true) const;

  std::chrono::milliseconds rpc_deadline() const { return rpc_deadline_; }

 private:
  std::chrono::milliseconds rpc_deadline_;
  std::string bearer_token_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_CLIENT_CHANNEL_H_
