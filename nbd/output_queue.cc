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
// Slices this small are copied: pinning a chunk costs more than copying them.
constexpr uint64_t kCopyBelowBytes = 512;
// A TLS record's payload at most: pieces smaller than this are gathered into one record
// instead of a record (and a send) each.
constexpr size_t kTlsRecordBytes = 16 * 1024;
constexpr size_t kZeroPageSize = 64 * 1024;
const char kZeroPage[kZeroPageSize] = {};

}  // namespace

uint64_t OutputQueue::SizeOf(const Piece& piece) {
  if (const auto* bytes = std::get_if<std::string>(&piece)) return bytes->size();
  if (const auto* pinned = std::get_if<Pinned>(&piece)) return pinned->slice.length;
  return std::get<Zeros>(piece).count;
}

void OutputQueue::Append(std::string bytes) {
  if (bytes.empty()) return;
  bytes_ += bytes.size();
  pieces_.emplace_back(std::move(bytes));
}

void OutputQueue::Append(ChunkSlice slice) {
  if (slice.length == 0) return;
  if (slice.length < kCopyBelowBytes) {
    Append(std::string(slice.data()));
    return;
  }
  const uint64_t charge = account_ != nullptr ? slice.chunk.size() : 0;  // pins the whole chunk
  if (account_ != nullptr && !account_->TryPin(charge)) {
    account_->CountCopied(slice.length);
    Append(std::string(slice.data()));  // drops the chunk's pin here
    return;
  }
  bytes_ += slice.length;
  pieces_.emplace_back(Pinned{std::move(slice), charge});
}

void OutputQueue::AppendZeros(uint64_t count) {
  if (count == 0) return;
  bytes_ += count;
  pieces_.emplace_back(Zeros{count});
}

void OutputQueue::PopFront() {
  uint64_t charged = 0;
  if (auto* pinned = std::get_if<Pinned>(&pieces_.front())) charged = pinned->charged;
  pieces_.pop_front();                         // releases a slice's chunk pin first...
  if (charged != 0) account_->Unpin(charged);  // ...then its charge
}

void OutputQueue::Clear() {
  while (!pieces_.empty()) PopFront();
  front_written_ = 0;
  tls_gathered_.clear();
  tls_gathered_written_ = 0;
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
      } else if (const auto* pinned = std::get_if<Pinned>(&*it)) {
        data = pinned->slice.data().data();
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
      PopFront();
      front_written_ = 0;
    }
  }
  return total;
}

absl::StatusOr<uint64_t> OutputQueue::WriteTo(TlsSession& tls, bool* wants_read) {
  *wants_read = false;
  uint64_t total = 0;
  while (!tls_gathered_.empty() || !pieces_.empty()) {
    if (tls_gathered_.empty() && front_written_ == 0 && SizeOf(pieces_.front()) < kTlsRecordBytes) {
      // Gather whole small pieces (headers, small slices, short zero runs) into one record.
      while (!pieces_.empty() &&
             tls_gathered_.size() + SizeOf(pieces_.front()) <= kTlsRecordBytes) {
        const Piece& piece = pieces_.front();
        if (const auto* bytes = std::get_if<std::string>(&piece)) {
          tls_gathered_ += *bytes;
        } else if (const auto* pinned = std::get_if<Pinned>(&piece)) {
          tls_gathered_ += pinned->slice.data();
        } else {
          tls_gathered_.append(static_cast<size_t>(std::get<Zeros>(piece).count), '\0');
        }
        PopFront();
      }
    }
    const char* data;
    size_t size;
    if (!tls_gathered_.empty()) {
      data = tls_gathered_.data() + tls_gathered_written_;
      size = tls_gathered_.size() - tls_gathered_written_;
    } else {
      const Piece& piece = pieces_.front();
      const uint64_t rest = SizeOf(piece) - front_written_;
      if (const auto* bytes = std::get_if<std::string>(&piece)) {
        data = bytes->data() + front_written_;
        size = static_cast<size_t>(rest);
      } else if (const auto* pinned = std::get_if<Pinned>(&piece)) {
        data = pinned->slice.data().data() + front_written_;  // zero-copy: the arena bytes
        size = static_cast<size_t>(rest);
      } else {
        data = kZeroPage;
        size = static_cast<size_t>(std::min<uint64_t>(rest, kZeroPageSize));
      }
    }
    size_t written = 0;
    const TlsIo io = tls.Write(data, size, &written);
    if (io == TlsIo::kWantWrite) return total;
    if (io == TlsIo::kWantRead) {
      *wants_read = true;
      return total;
    }
    if (io != TlsIo::kDone) return absl::UnavailableError(tls.error());
    total += written;
    bytes_ -= written;
    if (!tls_gathered_.empty()) {
      tls_gathered_written_ += written;
      if (tls_gathered_written_ == tls_gathered_.size()) {
        tls_gathered_.clear();
        tls_gathered_written_ = 0;
      }
    } else {
      front_written_ += written;
      if (front_written_ == SizeOf(pieces_.front())) {
        PopFront();
        front_written_ = 0;
      }
    }
  }
  return total;
}

}  // namespace chunkcache::nbd
