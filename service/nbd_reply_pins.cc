#include "service/nbd_reply_pins.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

class BudgetAccount final : public ReplyPinAccount {
 public:
  BudgetAccount(std::shared_ptr<ReplyPins> pins, uint64_t share)
      : pins_(std::move(pins)), share_(share) {}

  bool TryPin(uint64_t bytes) override {
    if (pins_->TryPin(bytes)) return true;
    refused_ = true;
    return false;
  }
  void Unpin(uint64_t bytes) override {
    pins_->Unpin(bytes);
    refused_ = false;  // a write made room: try pinning again before waiting again
  }
  void CountCopied(uint64_t bytes) override { pins_->CountCopied(bytes); }
  bool OverShare() const override {
    const uint64_t pinned = pins_->pinned_bytes();
    return pinned > 0 && (refused_ || pinned >= share_);
  }

 private:
  const std::shared_ptr<ReplyPins> pins_;  // holds the budget
  const uint64_t share_;
  bool refused_ = false;  // the connection's loop thread only
};

}  // namespace

std::unique_ptr<ReplyPinAccount> NbdReplyPins::ForConnection(const NbdClient& client) {
  // Unique among NBD connections, and never a gRPC peer name ("ipv4:..." / "unix:...").
  const std::string name = absl::StrCat("nbd#", next_connection_.fetch_add(1), " ", client.peer);
  return std::make_unique<BudgetAccount>(budget_->ForCall(name), budget_->max_connection_bytes());
}

}  // namespace chunkcache
