// A minimal NBD client on a blocking socket, for tests that need what libnbd will not do:
// send requests and never read the replies, or read replies while the server shuts down.
// Fixed newstyle handshake with NBD_OPT_EXPORT_NAME (so replies are simple replies).
//
//   int fd = ConnectNbd(port, "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx");
//   SendAll(fd, NbdReadRequest(/*cookie=*/1, offset, length));
//   std::optional<NbdSimpleReply> reply = ReadSimpleReply(fd, length);
#ifndef CHUNKCACHE_TESTS_NBD_RAW_NBD_CLIENT_H_
#define CHUNKCACHE_TESTS_NBD_RAW_NBD_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace chunkcache::testing {

inline void PutBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

inline uint64_t GetBigEndian(const std::string& in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<uint8_t>(in[at + i]);
  return value;
}

// False when the peer closed or the 30 s receive timeout passed first.
inline bool ReadExactly(int fd, size_t length, std::string* out) {
  out->resize(length);
  size_t got = 0;
  while (got < length) {
    const ssize_t n = recv(fd, out->data() + got, length - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

inline bool SendAll(int fd, const std::string& bytes) {
  return send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// A socket in transmission on `export_name`, or -1. `receive_buffer` > 0 shrinks the socket's
// receive buffer first (so unread replies stay on the server).
inline int ConnectNbd(int port, const std::string& export_name, int receive_buffer = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  timeval timeout{30, 0};  // a broken server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string greeting;
  std::string options;
  PutBigEndian(options, 3, 4);  // client flags: FIXED_NEWSTYLE | NO_ZEROES
  options += "IHAVEOPT";
  PutBigEndian(options, 1, 4);  // NBD_OPT_EXPORT_NAME
  PutBigEndian(options, export_name.size(), 4);
  options += export_name;
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      !ReadExactly(fd, 18, &greeting) || greeting.compare(0, 16, "NBDMAGICIHAVEOPT") != 0 ||
      !SendAll(fd, options) || !ReadExactly(fd, 10, &reply)) {  // export size, flags
    close(fd);
    return -1;
  }
  return fd;
}

inline std::string NbdReadRequest(uint64_t cookie, uint64_t offset, uint32_t length) {
  std::string request;
  PutBigEndian(request, 0x25609513, 4);
  PutBigEndian(request, 0, 2);  // flags
  PutBigEndian(request, 0, 2);  // NBD_CMD_READ
  PutBigEndian(request, cookie, 8);
  PutBigEndian(request, offset, 8);
  PutBigEndian(request, length, 4);
  return request;
}

struct NbdSimpleReply {
  uint32_t error = 0;
  uint64_t cookie = 0;
  std::string data;  // `length` bytes when error is 0
};

// The next simple reply to a read of `length` bytes; nullopt when the connection ended first
// or the reply is malformed.
inline std::optional<NbdSimpleReply> ReadSimpleReply(int fd, uint32_t length) {
  std::string header;
  if (!ReadExactly(fd, 16, &header) || GetBigEndian(header, 0, 4) != 0x67446698) {
    return std::nullopt;
  }
  NbdSimpleReply reply;
  reply.error = static_cast<uint32_t>(GetBigEndian(header, 4, 4));
  reply.cookie = GetBigEndian(header, 8, 8);
  if (reply.error == 0 && !ReadExactly(fd, length, &reply.data)) return std::nullopt;
  return reply;
}

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_NBD_RAW_NBD_CLIENT_H_
