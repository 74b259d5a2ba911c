// ClientOptions: how a ChunkCacheClient reaches and talks to a chunkcached server.
//
//   ClientOptions options;
//   options.server_address = "node1:7000";
//   options.use_tls = true;
//   options.ca_cert_file = "/etc/chunkcache/ca.pem";   // verify the server against this CA
//   options.bearer_token = token;                       // "authorization: Bearer <token>"
//   absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(options);
#ifndef CHUNKCACHE_CLIENT_LIB_CLIENT_OPTIONS_H_
#define CHUNKCACHE_CLIENT_LIB_CLIENT_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "client/lib/retry_policy.h"

namespace chunkcache {

// The default ReadRange cap of the server (its max_read_bytes).
inline constexpr uint64_t kDefaultMaxReadBytes = uint64_t{4} << 20;

struct ClientOptions {
  // A gRPC target: "host:port", "ipv4:127.0.0.1:7000", "unix:/run/chunkcache.sock", ...
  std::string server_address;

  // TLS. Without ca_cert_file the system's root certificates verify the server. A client
  // certificate and its key (both PEM) turn TLS into mutual TLS. The files are only allowed
  // together with use_tls, so that a forgotten --tls never sends the token in clear text
  // while the user believes it is protected.
  bool use_tls = false;
  std::string ca_cert_file;
  std::string client_cert_file;
  std::string client_key_file;
  // Name to verify in the server certificate instead of the host of server_address (for
  // connecting by IP address to a server whose certificate names a host).
  std::string tls_server_name;

  // Sent as "authorization: Bearer <token>" with every call; empty sends nothing.
  std::string bearer_token;

  // Deadline of each unary call attempt. A StreamRange call has no overall deadline (it may
  // last as long as the archive takes); instead it fails when no message arrives for this long.
  std::chrono::milliseconds rpc_deadline{30000};

  RetryPolicy retry;

  // Largest length the client asks for in one ReadRange; set it to the server's max_read_bytes
  // when that is configured differently.
  uint64_t max_read_bytes = kDefaultMaxReadBytes;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_CLIENT_OPTIONS_H_
