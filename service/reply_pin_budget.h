// ReplyPinBudget: caps the cache bytes that zero-copy replies keep pinned, per connection and in
// total, so that clients that stop reading cannot pin the cache away from everyone else.
//
// A zero-copy reply (range_response_encoder.h) pins its chunks until gRPC has sent it and drops
// its slices; a client that stops reading its HTTP/2 stream keeps them pinned. Each slice of a
// reply is therefore charged (its chunk's size) to the call's ReplyPins before it is pinned:
//  * within its connection's share (`max_connection_bytes`) and the total (`max_total_bytes`)
//    it is pinned, and the charge goes back when gRPC drops the slice;
//  * otherwise the encoder copies those bytes, which releases the chunk at once.
// A StreamRange does not read its next piece while its connection is over its share and the
// call itself still has pinned bytes in flight: it waits (WhenRoom) for a release, which is
// HTTP/2 flow control reaching the cache. A call that holds nothing never waits (a stalled
// stream does not block the other streams of its connection), and nobody waits for the total:
// over it replies are copied, so strangers cannot stall each other.
//
//   auto budget = std::make_shared<ReplyPinBudget>(capacity / 4, 8 << 20);
//   std::shared_ptr<ReplyPins> pins = budget->ForCall(context->peer());
//   if (pins->TryPin(chunk.size())) { ... zero-copy slice; pins->Unpin(chunk.size()) when dropped }
//   ReplyRoomTicket ticket = pins->WhenRoom([](absl::StatusOr<ReplyRoom>) { ReadNextPiece(); });
//
// A connection is a gRPC peer (ServerContext::peer(): address and port); all clients of a Unix
// socket share one. Thread-safe; calls and slices hold their ReplyPins (and through it the
// budget) by shared_ptr, so slices may outlive the call and the server's reference.
#ifndef CHUNKCACHE_SERVICE_REPLY_PIN_BUDGET_H_
#define CHUNKCACHE_SERVICE_REPLY_PIN_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace chunkcache {

class ReplyPins;
class ReplyConnection;

// What WhenRoom delivers: the call may pin again.
struct ReplyRoom {};
using ReplyRoomCallback = absl::AnyInvocable<void(absl::StatusOr<ReplyRoom>)>;

// The handle of one WhenRoom wait, as CancellableOperation wants it (cancellable_operation.h).
class ReplyRoomTicket {
 public:
  ReplyRoomTicket() = default;
  ReplyRoomTicket(ReplyRoomTicket&&) noexcept = default;
  ReplyRoomTicket& operator=(ReplyRoomTicket&&) noexcept = default;

  bool ready() const { return ready_; }
  absl::StatusOr<ReplyRoom> TakeResult() { return ReplyRoom{}; }
  // True: the callback will never run. False: it has run or is running.
  bool Cancel();

 private:
  friend class ReplyPins;
  bool ready_ = false;
  std::shared_ptr<ReplyConnection> connection_;
  uint64_t waiter_id_ = 0;
};

class ReplyPinBudget : public std::enable_shared_from_this<ReplyPinBudget> {
 public:
  // Both at least 1 byte; `max_connection_bytes` is clipped to `max_total_bytes`.
  ReplyPinBudget(uint64_t max_total_bytes, uint64_t max_connection_bytes);
  ReplyPinBudget(const ReplyPinBudget&) = delete;
  ReplyPinBudget& operator=(const ReplyPinBudget&) = delete;

  // The pins of a new call on `connection` (a gRPC peer), sharing that connection's share with
  // its other calls.
  std::shared_ptr<ReplyPins> ForCall(const std::string& connection);

  uint64_t pinned_bytes() const { return pinned_.load(std::memory_order_relaxed); }
  // Reply bytes copied because a share or the total was spent (a counter).
  uint64_t copied_bytes() const { return copied_.load(std::memory_order_relaxed); }
  uint64_t max_total_bytes() const { return max_total_bytes_; }
  uint64_t max_connection_bytes() const { return max_connection_bytes_; }

 private:
  friend class ReplyConnection;
  friend class ReplyPins;
  bool TryReserve(uint64_t bytes);
  void Forget(const std::string& connection);

  const uint64_t max_total_bytes_;
  const uint64_t max_connection_bytes_;
  std::atomic<uint64_t> pinned_{0};
  std::atomic<uint64_t> copied_{0};

  absl::Mutex mu_;
  // Connections with a call or a pinned slice; an entry goes when its last holder does.
  absl::flat_hash_map<std::string, std::weak_ptr<ReplyConnection>> connections_
      ABSL_GUARDED_BY(mu_);
};

// The share of one connection: its calls' pinned bytes and the calls waiting for room.
class ReplyConnection {
 public:
  ReplyConnection(std::shared_ptr<ReplyPinBudget> budget, std::string name)
      : budget_(std::move(budget)), name_(std::move(name)) {}
  ~ReplyConnection() { budget_->Forget(name_); }
  ReplyConnection(const ReplyConnection&) = delete;
  ReplyConnection& operator=(const ReplyConnection&) = delete;

 private:
  friend class ReplyPins;
  friend class ReplyRoomTicket;
  struct Waiter {
    uint64_t id;
    // The waiting call: its pins outlive the wait (the call ends it, by its callback or by
    // cancelling it, before it finishes).
    const ReplyPins* call;
    ReplyRoomCallback on_room;
  };
  bool MayPinLocked(const ReplyPins& call) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<ReplyPinBudget> budget_;
  const std::string name_;
  mutable absl::Mutex mu_;
  uint64_t pinned_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

// One call's reply pins. Made by ReplyPinBudget::ForCall.
class ReplyPins {
 public:
  explicit ReplyPins(std::shared_ptr<ReplyConnection> connection)
      : connection_(std::move(connection)) {}
  ReplyPins(const ReplyPins&) = delete;
  ReplyPins& operator=(const ReplyPins&) = delete;

  // Charges `bytes` (a chunk about to be pinned by a reply slice) if the connection's share
  // and the total have room; false: copy the bytes instead.
  bool TryPin(uint64_t bytes);
  // Gives back what TryPin charged (gRPC dropped the slice). Wakes the calls of this connection
  // that wait for room and may go on now; they run on this thread, after every lock here is
  // released.
  void Unpin(uint64_t bytes);
  // Counts `bytes` copied instead of pinned.
  void CountCopied(uint64_t bytes);

  // Runs `on_room` once this call may pin again: at once (the ticket is ready; `on_room` is
  // dropped) while it holds nothing or its connection is within its share, otherwise from the
  // Unpin that makes it so.
  ReplyRoomTicket WhenRoom(ReplyRoomCallback on_room);

  // Bytes this call has pinned now.
  uint64_t pinned_bytes() const;

 private:
  friend class ReplyConnection;
  const std::shared_ptr<ReplyConnection> connection_;
  uint64_t pinned_ ABSL_GUARDED_BY(connection_->mu_) = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_REPLY_PIN_BUDGET_H_
