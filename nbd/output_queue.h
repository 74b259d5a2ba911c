// OutputQueue: the bytes a connection still has to send, in order — small owned headers,
// arena slices that keep their chunks pinned until written (zero-copy), and runs of zero
// bytes sent from one static page. WriteTo writes as much as the socket takes with writev.
//
//   queue.Append(SimpleReplyHeader(0, cookie));
//   queue.Append(std::move(slice));   // pinned until its last byte is written
//   absl::StatusOr<size_t> written = queue.WriteTo(fd);   // 0 when the socket is full
//
// Not thread-safe: owned by one connection on its loop thread.
#ifndef CHUNKCACHE_NBD_OUTPUT_QUEUE_H_
#define CHUNKCACHE_NBD_OUTPUT_QUEUE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "cache/range_read.h"

namespace chunkcache::nbd {

class OutputQueue {
 public:
  void Append(std::string bytes);
  void Append(ChunkSlice slice);
  void AppendZeros(uint64_t count);

  bool empty() const { return pieces_.empty(); }
  uint64_t bytes() const { return bytes_; }  // still to write

  // Writes until the queue is empty or the socket would block; the bytes written. Errors:
  // the socket's (the peer is gone).
  absl::StatusOr<uint64_t> WriteTo(int fd);
  void Clear();

 private:
  struct Zeros {
    uint64_t count = 0;
  };
  using Piece = std::variant<std::string, ChunkSlice, Zeros>;
  static uint64_t SizeOf(const Piece& piece);

  std::deque<Piece> pieces_;
  uint64_t front_written_ = 0;  // bytes of pieces_.front() already written
  uint64_t bytes_ = 0;
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_OUTPUT_QUEUE_H_
