#include "nbd/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chunkcache::nbd {
namespace {

constexpr int kMaxIovecs = 64;
constexpr size_t kZeroPageSize = 64 * 1024;
const char kZeroPage[kZeroPageSize] = {};

}  // namespace

uint64_t OutputQueue::SizeOf(const Piece& piece) {
  if (const auto* bytes = std::get_if<std::string>(&piece)) return bytes->size();
  if (const auto* slice = std::get_if<ChunkSlice>(&piece)) return slice->length;
  return std::get<Zeros>(piece).count;
}

void OutputQueue::Append(std::string bytes) {
  if (bytes.empty()) return;
  bytes_ += bytes.size();
  pieces_.emplace_back(std::move(bytes));
}

void OutputQueue::Append(ChunkSlice slice) {
  if (slice.length == 0) return;
  bytes_ += slice.length;
  pieces_.emplace_back(std::move(slice));
}

void OutputQueue::AppendZeros(uint64_t count) {
  if (count == 0) return;
  bytes_ += count;
  pieces_.emplace_back(Zeros{count});
}

void OutputQueue::Clear() {
  pieces_.clear();
  front_written_ = 0;
  bytes_ = 0;
}

absl::StatusOr<uint64_t> OutputQueue::WriteTo(int fd) {
  uint64_t total = 0;
  while (!pieces_.empty()) {
    iovec iov[kMaxIovecs];
    int count = 0;
    uint64_t skip = front_written_;
    for (auto it = pieces_.begin(); it != pieces_.end() && count < kMaxIovecs; ++it) {
      const char* data = nullptr;
      uint64_t size = SizeOf(*it);
      if (const auto* bytes = std::get_if<std::string>(&*it)) {
        data = bytes->data();
      } else if (const auto* slice = std::get_if<ChunkSlice>(&*it)) {
        data = slice->data().data();
      }
      if (data != nullptr) {
        iov[count++] = {const_cast<char*>(data) + skip, static_cast<size_t>(size - skip)};
      } else {
        // Zeros: as many page-sized pieces as fit; the rest goes in the next round.
        uint64_t left = size - skip;
        while (left > 0 && count < kMaxIovecs) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeroPageSize));
          iov[count++] = {const_cast<char*>(kZeroPage), n};
          left -= n;
        }
        if (left > 0) break;
      }
      skip = 0;
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = static_cast<size_t>(count);
    const ssize_t written = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return total;
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
    uint64_t left = static_cast<uint64_t>(written);
    total += left;
    bytes_ -= left;
    while (left > 0) {
      const uint64_t rest = SizeOf(pieces_.front()) - front_written_;
      if (left < rest) {
        front_written_ += left;
        break;
      }
      left -= rest;
      pieces_.pop_front();  // releases a slice's pin
      front_written_ = 0;
    }
  }
  return total;
}

}  // namespace chunkcache::nbd
