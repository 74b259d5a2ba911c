#include "nbd/nbd_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

constexpr int kBacklog = 1024;
constexpr int kMaxAcceptsPerEvent = 64;

std::string PeerName(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(in->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(in6->sin6_port));
  }
  return "unix";
}

absl::StatusOr<int> ListenTcp(const NbdListenAddress& address, int* bound_port) {
  const std::string where = absl::StrCat(address.host, ":", address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int error = getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(),
                                    port.c_str(), &hints, &found);
      error != 0) {
    return absl::UnavailableError(
        absl::StrCat("nbd.listen: cannot resolve ", where, ": ", gai_strerror(error)));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int error = errno;
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
      error = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("nbd.listen: cannot listen on ", where, ": ", std::strerror(error)));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  *bound_port = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

absl::StatusOr<int> ListenUnix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("nbd.listen: unix socket path '", path, "' is empty or too long"));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("nbd.listen: ", path, " exists and is not a socket"));
    }
    unlink(path.c_str());  // left behind by an earlier run
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Created 0660 (umask 0117 around bind), so no other user can connect even for a moment.
  const mode_t old_mask = umask(0117);
  const bool bound =
      fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  const int error = errno;
  umask(old_mask);
  if (!bound || listen(fd, kBacklog) != 0 || chmod(path.c_str(), 0660) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("nbd.listen: cannot listen on unix:", path, ": ", std::strerror(error)));
  }
  return fd;
}

}  // namespace

// Accepts connections and hands them to the loops, round robin.
class NbdServer::Listener : public nbd::EventHandler {
 public:
  Listener(NbdServer* server, nbd::EventLoop* loop, int fd, std::string unix_path)
      : server_(server), loop_(loop), fd_(fd), unix_path_(std::move(unix_path)) {}
  ~Listener() override { CloseSocket(); }

  void OnEvents(uint32_t /*events*/) override {
    for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
      sockaddr_storage peer{};
      socklen_t length = sizeof(peer);
      const int fd =
          accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop accepting until the next tick instead of spinning on a
          // listener that stays readable.
          spdlog::warn("event=nbd_accept_failed error={}", std::strerror(errno));
          loop_->Modify(fd_, 0);
          paused_ = true;
        }
        return;
      }
      if (peer.ss_family != AF_UNIX) {
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      server_->Accepted(fd, PeerName(peer));
    }
  }

  void OnTick(absl::Time /*now*/) override {
    if (paused_) {
      loop_->Modify(fd_, EPOLLIN);
      paused_ = false;
    }
  }

  int fd() const { return fd_; }

  void CloseSocket() {
    if (fd_ < 0) return;
    close(fd_);
    fd_ = -1;
    if (!unix_path_.empty()) unlink(unix_path_.c_str());
  }

 private:
  NbdServer* const server_;
  nbd::EventLoop* const loop_;
  int fd_;
  const std::string unix_path_;
  bool paused_ = false;
};

absl::StatusOr<std::unique_ptr<NbdServer>> NbdServer::Start(const NbdServerOptions& options,
                                                            NbdExportResolver* resolver,
                                                            NbdObserver* observer) {
  if (options.listen.empty()) return absl::InvalidArgumentError("nbd.listen: no address");
  std::unique_ptr<NbdServer> server(new NbdServer(options));
  server->context_.resolver = resolver;
  server->context_.observer = observer;
  server->context_.reply_pins = options.reply_pins;
  server->context_.tls = options.tls;
  server->context_.max_block_size = options.max_block_size;
  server->context_.max_connection_bytes = options.max_connection_bytes;
  server->context_.handshake_timeout = options.handshake_timeout;
  server->context_.stall_timeout = options.stall_timeout;

  std::vector<int> fds;
  for (const NbdListenAddress& address : options.listen) {
    int port = 0;
    absl::StatusOr<int> fd =
        address.unix_path.empty() ? ListenTcp(address, &port) : ListenUnix(address.unix_path);
    if (!fd.ok()) {
      for (int open_fd : fds) close(open_fd);
      return fd.status();
    }
    fds.push_back(*fd);
    server->ports_.push_back(port);
  }
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    absl::StatusOr<std::unique_ptr<nbd::EventLoop>> loop = nbd::EventLoop::Create();
    if (!loop.ok()) {
      for (int open_fd : fds) close(open_fd);
      return loop.status();
    }
    server->loops_.push_back(*std::move(loop));
  }
  nbd::EventLoop* acceptor = server->loops_.front().get();
  for (size_t i = 0; i < fds.size(); ++i) {
    server->listeners_.push_back(
        std::make_shared<Listener>(server.get(), acceptor, fds[i], options.listen[i].unix_path));
  }
  for (auto& loop : server->loops_) loop->Start();
  acceptor->Post([acceptor, listeners = server->listeners_] {
    for (const std::shared_ptr<Listener>& listener : listeners) {
      acceptor->Add(listener->fd(), EPOLLIN, listener);
    }
  });
  return server;
}

void NbdServer::Accepted(int fd, std::string peer) {
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (context_.open_connections >= options_.max_connections) {
      close(fd);
      spdlog::warn("event=nbd_connection_refused peer={} reason=max_connections", peer);
      return;
    }
  }
  nbd::EventLoop* loop = loops_[next_loop_.fetch_add(1) % loops_.size()].get();
  // Created here, on the accepting thread, so the connection count includes it at once; it
  // is registered on its loop's thread.
  auto connection =
      std::make_shared<nbd::NbdConnection>(&context_, loop, fd, NbdClient{std::move(peer)});
  loop->Post([connection] { connection->Start(); });
}

size_t NbdServer::open_connections() {
  std::lock_guard<std::mutex> lock(context_.mu);
  return context_.open_connections;
}

void NbdServer::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  if (loops_.empty()) return;  // Start failed
  // Stop accepting: on the accepting loop, so that no accept runs after this.
  std::promise<void> listeners_closed;
  loops_.front()->Post([&] {
    for (const std::shared_ptr<Listener>& listener : listeners_) {
      loops_.front()->Remove(listener->fd());
      listener->CloseSocket();
    }
    listeners_closed.set_value();
  });
  listeners_closed.get_future().wait();
  for (auto& loop : loops_) {
    loop->Post([loop = loop.get()] {
      for (const auto& handler : loop->Handlers()) handler->OnDrain();
    });
  }
  {
    std::unique_lock<std::mutex> lock(context_.mu);
    context_.all_closed.wait_until(lock, absl::ToChronoTime(deadline),
                                   [&] { return context_.open_connections == 0; });
  }
  for (auto& loop : loops_) {
    loop->Post([loop = loop.get()] {
      for (const auto& handler : loop->Handlers()) handler->OnForceClose();
    });
  }
  for (auto& loop : loops_) loop->Stop();  // runs the posts above first
  listeners_.clear();
}

}  // namespace chunkcache
