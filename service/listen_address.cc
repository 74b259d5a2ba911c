#include "service/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

absl::Status Invalid(std::string_view text, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": '", ToAbsl(text),
                                                 "' is not a listen address (", ToAbsl(why),
                                                 "); write HOST:PORT, e.g. 127.0.0.1:7070"));
}

bool IsLoopbackIpv4(const in_addr& address) { return (ntohl(address.s_addr) >> 24) == 127; }

bool IsLoopbackAddress(const sockaddr& address) {
  if (address.sa_family == AF_INET) {
    return IsLoopbackIpv4(reinterpret_cast<const sockaddr_in&>(address).sin_addr);
  }
  if (address.sa_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {  // ::ffff:127.0.0.1
      in_addr v4;
      std::memcpy(&v4.s_addr, &v6.s6_addr[12], sizeof(v4.s_addr));
      return IsLoopbackIpv4(v4);
    }
  }
  return false;
}

}  // namespace

bool ListenAddress::loopback() const {
  if (unix_socket) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &resolved) != 0) return false;
  bool any = false;
  bool all_loopback = true;
  for (const addrinfo* a = resolved; a != nullptr; a = a->ai_next) {
    any = true;
    all_loopback = all_loopback && IsLoopbackAddress(*a->ai_addr);
  }
  ::freeaddrinfo(resolved);
  return any && all_loopback;
}

std::string ListenAddress::WithPort(int bound_port) const {
  if (unix_socket) return text;
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", bound_port);
  return absl::StrCat(host, ":", bound_port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text, std::string_view field,
                                                 bool allow_unix_socket) {
  ListenAddress address;
  address.text = std::string(text);
  if (text.substr(0, 5) == "unix:") {
    if (!allow_unix_socket) return Invalid(text, field, "unix sockets are not supported here");
    if (text.size() == 5) return Invalid(text, field, "no socket path");
    address.unix_socket = true;
    return address;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Invalid(text, field, "no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Invalid(text, field, "an IPv6 address needs brackets: [::1]:7070");
  }
  if (host.empty()) return Invalid(text, field, "no host; use 0.0.0.0 for every interface");
  int value = -1;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535) {
    return Invalid(text, field, "the port must be a number from 0 to 65535");
  }
  address.host = std::string(host);
  address.port = value;
  return address;
}

}  // namespace chunkcache
