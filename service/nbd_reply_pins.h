// NbdReplyPins: NBD connections charge their zero-copy reply pins to the server's
// ReplyPinBudget (reply_pin_budget.h), the one the gRPC replies use, so that NBD clients and
// gRPC clients together cannot pin more of the cache than max_reply_pinned_bytes, and one NBD
// connection no more than max_reply_pinned_bytes_per_connection.
//
// Each NBD connection is a budget connection of its own (unix socket clients do not share a
// share), with one call. It is over its share (nbd/reply_pin_account.h) while it holds pins and
// either has reached its share or has just been refused a pin: then it reads no new requests
// until a write gives a pin back. Without pins it never waits: its replies are copied.
//
//   NbdReplyPins reply_pins(budget);
//   options.reply_pins = &reply_pins;      // NbdServerOptions
#ifndef CHUNKCACHE_SERVICE_NBD_REPLY_PINS_H_
#define CHUNKCACHE_SERVICE_NBD_REPLY_PINS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "nbd/reply_pin_account.h"
#include "service/reply_pin_budget.h"

namespace chunkcache {

class NbdReplyPins final : public NbdReplyPinAccounts {
 public:
  explicit NbdReplyPins(std::shared_ptr<ReplyPinBudget> budget) : budget_(std::move(budget)) {}

  std::unique_ptr<ReplyPinAccount> ForConnection(const NbdClient& client) override;

 private:
  const std::shared_ptr<ReplyPinBudget> budget_;
  std::atomic<uint64_t> next_connection_{0};
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_NBD_REPLY_PINS_H_
