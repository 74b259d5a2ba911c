// OutputQueue: the bytes a connection still has to send, in order — small owned headers,
// arena slices that keep their chunks pinned until written (zero-copy), and runs of zero
// bytes sent from one static page. WriteTo writes as much as the socket takes with writev.
// With a ReplyPinAccount (reply_pin_account.h) every pinned slice is charged its chunk's size
// first, and copied instead when the account refuses; the charge goes back when the slice is
// written or cleared.
//
//   OutputQueue queue(account);         // account may be null: pin without charging
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
#include "nbd/reply_pin_account.h"
#include "nbd/tls_session.h"

namespace chunkcache::nbd {

class OutputQueue {
 public:
  // `account` (may be null) must outlive the queue.
  explicit OutputQueue(ReplyPinAccount* account = nullptr) : account_(account) {}
  ~OutputQueue() { Clear(); }
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  void Append(std::string bytes);
  void Append(ChunkSlice slice);
  void AppendZeros(uint64_t count);

  bool empty() const { return pieces_.empty(); }
  uint64_t bytes() const { return bytes_; }  // still to write

  // Writes until the queue is empty or the socket would block; the bytes written. Errors:
  // the socket's (the peer is gone).
  absl::StatusOr<uint64_t> WriteTo(int fd);
  // The same through TLS: slices go to SSL_write as they are; small pieces are gathered into
  // records of up to 16 KiB first. *wants_read: TLS needs the socket readable to go on.
  absl::StatusOr<uint64_t> WriteTo(TlsSession& tls, bool* wants_read);
  void Clear();

 private:
  struct Zeros {
    uint64_t count = 0;
  };
  struct Pinned {
    ChunkSlice slice;
    uint64_t charged = 0;  // on account_
  };
  using Piece = std::variant<std::string, Pinned, Zeros>;
  static uint64_t SizeOf(const Piece& piece);
  void PopFront();

  ReplyPinAccount* const account_;

  // Bytes of the small pieces at the front, gathered for one TLS record; written before
  // pieces_ (they came first), kept unchanged until written, as SSL_write retries require.
  std::string tls_gathered_;
  uint64_t tls_gathered_written_ = 0;
  std::deque<Piece> pieces_;
  uint64_t front_written_ = 0;  // bytes of pieces_.front() already written
  uint64_t bytes_ = 0;
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_OUTPUT_QUEUE_H_
