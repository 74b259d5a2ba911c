// The addresses chunkcached listens on: "HOST:PORT", "[IPV6]:PORT" or (gRPC only)
// "unix:/path". Port 0 asks the kernel for a free port; the server reports the one it got.
//
//   absl::StatusOr<ListenAddress> a = ParseListenAddress("127.0.0.1:0", "listen");
//   a->loopback();  // true: only local clients can connect (resolves the host)
#ifndef CHUNKCACHE_SERVICE_LISTEN_ADDRESS_H_
#define CHUNKCACHE_SERVICE_LISTEN_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chunkcache {

struct ListenAddress {
  std::string text;  // as configured
  std::string host;  // without brackets; "" for a unix socket
  int port = 0;      // 0: any free port
  bool unix_socket = false;

  // Reachable only from this machine: a unix socket, or a host every address of which is a
  // loopback address (127.0.0.0/8, ::1). The host is resolved (getaddrinfo), not judged by its
  // text: "localhost" counts when it names loopback addresses only, while a name such as
  // "127.example.net" does not; a host that does not resolve is not loopback. May block on
  // the resolver.
  bool loopback() const;
  // `text` with the port replaced by `bound_port` (for "127.0.0.1:0" once bound).
  std::string WithPort(int bound_port) const;
};

// INVALID_ARGUMENT naming `field` for anything that is not one of the forms above.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text, std::string_view field,
                                                 bool allow_unix_socket);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_LISTEN_ADDRESS_H_
