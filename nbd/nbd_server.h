// NbdServer: the read-only NBD server of chunkcached. It listens on TCP addresses and unix
// sockets, accepts connections on one thread and serves them on a small fixed set of event
// loops (event_loop.h, connection.h): no thread per connection or per request, and a
// client that stops reading holds no thread. Exports are resolved by the service
// (nbd_export.h); metrics go to an NbdObserver.
//
//   NbdServerOptions options;
//   options.listen.push_back({.host = "127.0.0.1", .port = 10809});
//   absl::StatusOr<std::unique_ptr<NbdServer>> server =
//       NbdServer::Start(options, &resolver, &observer);
//   (*server)->ports();                          // the bound TCP ports, also for port 0
//   (*server)->Shutdown(absl::Now() + absl::Seconds(10));
//
// With options.tls the server is FORCEDTLS: a client must send NBD_OPT_STARTTLS first; its
// verified certificate's subject reaches the resolver in NbdClient::cert_subject.
//
// Shutdown stops accepting, ends handshakes, lets transmissions finish the requests they
// have in flight until the deadline (reading no new ones), then closes every connection.
// Every chunk pin is released and every session reference dropped when it returns; the
// resolver and observer must outlive it.
#ifndef CHUNKCACHE_NBD_NBD_SERVER_H_
#define CHUNKCACHE_NBD_NBD_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nbd/connection.h"
#include "nbd/event_loop.h"
#include "nbd/nbd_export.h"
#include "nbd/nbd_observer.h"
#include "nbd/reply_pin_account.h"
#include "nbd/tls_session.h"

namespace chunkcache {

struct NbdListenAddress {
  std::string host;       // TCP: a numeric address or a name; empty with unix_path
  int port = 0;           // 0: any free port
  std::string unix_path;  // set: a unix socket, created with mode 0660
};

struct NbdServerOptions {
  std::vector<NbdListenAddress> listen;
  int threads = 2;  // event loops
  // NBD_INFO_BLOCK_SIZE maximum: the largest read served.
  uint32_t max_block_size = 4 << 20;
  // Bytes of reads in flight plus replies not yet sent, per connection; over it the
  // connection reads no new requests.
  uint64_t max_connection_bytes = uint64_t{64} << 20;
  size_t max_connections = 4096;  // more are accepted and closed at once
  absl::Duration handshake_timeout = absl::Seconds(30);
  absl::Duration stall_timeout = absl::Seconds(60);  // replies not read for this long: drop
  // Charges the chunks unsent replies pin (reply_pin_account.h); null: no budget beyond
  // max_connection_bytes. Must outlive the server.
  NbdReplyPinAccounts* reply_pins = nullptr;
  // Set: clients must start TLS (NBD_OPT_STARTTLS) before anything else. Null: no TLS.
  std::shared_ptr<nbd::NbdTlsContext> tls;
};

class NbdServer {
 public:
  // Errors: an address that cannot be bound (UNAVAILABLE, naming it), no listen address.
  static absl::StatusOr<std::unique_ptr<NbdServer>> Start(const NbdServerOptions& options,
                                                          NbdExportResolver* resolver,
                                                          NbdObserver* observer);
  ~NbdServer() { Shutdown(absl::Now()); }
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  // The bound port of each TCP listen address, in order (0 for unix sockets).
  const std::vector<int>& ports() const { return ports_; }
  size_t open_connections();

  // Idempotent; returns once every connection is closed and the threads have stopped.
  void Shutdown(absl::Time deadline);

 private:
  class Listener;
  explicit NbdServer(const NbdServerOptions& options) : options_(options) {}
  void Accepted(int fd, std::string peer);

  const NbdServerOptions options_;
  nbd::ConnectionContext context_;
  std::vector<std::unique_ptr<nbd::EventLoop>> loops_;  // loops_[0] also accepts
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::vector<int> ports_;
  std::atomic<size_t> next_loop_{0};
  bool shut_down_ = false;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_NBD_NBD_SERVER_H_
