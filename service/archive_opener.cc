#include "service/archive_opener.h"

#include "cache/internal/status_copy.h"

namespace chunkcache {

void OpenTicket::Cancel() {
  if (pending_ == nullptr) return;
  SessionCallback dropped;  // destroyed outside the lock: it may hold the last call reference
  {
    std::lock_guard<std::mutex> lock(pending_->mu);
    for (auto it = open_->waiters.begin(); it != open_->waiters.end(); ++it) {
      if (it->first == waiter_) {
        dropped = std::move(it->second);
        open_->waiters.erase(it);
        break;
      }
    }
  }
}

OpenTicket ArchiveOpener::Open(const ArchiveRequest& request, SessionCallback on_done) {
  using Pending = internal::PendingOpens;
  Pending::Key key{request.datastore->ref.name, request.snapshot.ToString(), request.archive};
  OpenTicket ticket;
  std::lock_guard<std::mutex> lock(pending_->mu);
  auto found = pending_->opens.find(key);
  if (found == pending_->opens.end()) {
    // The caller found the archive not open (ArchiveResolver::FindOpen) before it came here,
    // but an open of it may have finished in between: a worker leaves `opens` only after the
    // registry has the session, under this lock, so a session that is open now is found here.
    // Without this look the caller would take a worker and a queue slot for an archive that
    // is open — and be refused RESOURCE_EXHAUSTED when the queue is full.
    if (std::shared_ptr<SnapshotSession> session = resolver_->FindOpen(request)) {
      ticket.result_.emplace(std::move(session));
      return ticket;
    }
  }
  std::shared_ptr<Pending::Open>& slot =
      found != pending_->opens.end() ? found->second : pending_->opens[key];
  if (slot == nullptr) {
    auto open = std::make_shared<Pending::Open>();
    const ArchiveResolver* const resolver = resolver_;
    BlockingTicket<std::shared_ptr<SnapshotSession>> started =
        pool_->Submit<std::shared_ptr<SnapshotSession>>(
            [resolver, request] { return resolver->Open(request); },
            [pending = pending_, open, key](SessionResult result) {
              std::vector<std::pair<uint64_t, SessionCallback>> waiters;
              {
                std::lock_guard<std::mutex> lock(pending->mu);
                auto it = pending->opens.find(key);
                if (it != pending->opens.end() && it->second == open) pending->opens.erase(it);
                waiters = std::move(open->waiters);
              }
              for (auto& [id, waiter] : waiters) {
                waiter(result.ok() ? result
                                   : SessionResult(internal::IndependentCopy(result.status())));
              }
            });
    if (started.ready()) {
      pending_->opens.erase(key);
      ticket.result_.emplace(started.TakeResult());
      return ticket;
    }
    slot = std::move(open);
  }
  ticket.pending_ = pending_;
  ticket.open_ = slot;
  ticket.waiter_ = slot->next_waiter++;
  slot->waiters.emplace_back(ticket.waiter_, std::move(on_done));
  return ticket;
}

}  // namespace chunkcache
