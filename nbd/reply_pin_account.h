// ReplyPinAccount: what an NBD connection charges for the cache bytes its unsent replies keep
// pinned. A reply that hands arena slices to the socket (zero-copy) pins their chunks until
// written; a client that stops reading would keep them pinned. The service charges these pins
// to the same budget as its gRPC replies (service/reply_pin_budget.h), so NBD and gRPC clients
// together cannot pin the cache away from each other:
//  * TryPin(chunk size) before a slice is queued: false means copy the bytes instead (the
//    chunk is released at once);
//  * Unpin(the same size) once the slice is written or dropped;
//  * OverShare(): the connection's own share is spent, so it reads no new requests until its
//    replies drain (its unsent replies hold the pins, so a write always makes room).
//
//   std::unique_ptr<ReplyPinAccount> account = accounts->ForConnection(client);
//   if (account->TryPin(chunk.size())) queue slice; else { account->CountCopied(n); copy; }
//
// nbd/ does not know the budget; NbdReplyPinAccounts is what the service implements.
// Accounts are used on one connection's loop thread; ForConnection from any thread.
#ifndef CHUNKCACHE_NBD_REPLY_PIN_ACCOUNT_H_
#define CHUNKCACHE_NBD_REPLY_PIN_ACCOUNT_H_

#include <cstdint>
#include <memory>

#include "nbd/nbd_export.h"

namespace chunkcache {

class ReplyPinAccount {
 public:
  virtual ~ReplyPinAccount() = default;
  virtual bool TryPin(uint64_t bytes) = 0;
  virtual void Unpin(uint64_t bytes) = 0;
  virtual void CountCopied(uint64_t bytes) = 0;
  virtual bool OverShare() const = 0;
};

class NbdReplyPinAccounts {
 public:
  virtual ~NbdReplyPinAccounts() = default;
  // One account per connection; it must stay usable after the server that made it is gone
  // only for Unpin of what it charged.
  virtual std::unique_ptr<ReplyPinAccount> ForConnection(const NbdClient& client) = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_NBD_REPLY_PIN_ACCOUNT_H_
