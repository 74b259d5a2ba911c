#include "cache/trace/concurrent_restores.h"

#include <cmath>
#include <memory>

#include "absl/status/status.h"

namespace chunkcache {
namespace {

// One restore: its reader id (also its StreamId) and the next position it reads.
struct Restore {
  uint32_t reader = 0;
  uint64_t next = 0;
  bool open = false;
};

void Read(ReplayWorkload& workload, const std::shared_ptr<const StreamOrder>& order, double speed,
          Restore& restore) {
  if (!restore.open) {
    StreamEvent open;
    open.kind = StreamEvent::Kind::kOpen;
    open.stream = restore.reader;
    open.position = restore.next;
    open.order = order;
    open.speed = speed;
    workload.AddEvent(std::move(open));
    restore.open = true;
  }
  workload.accesses.push_back({restore.next, AccessSource::kBackgroundCopy, restore.reader});
  ++restore.next;
  StreamEvent after;  // the cursor is the next position to read
  after.kind = restore.next == order->size() ? StreamEvent::Kind::kClose : StreamEvent::Kind::kMove;
  after.stream = restore.reader;
  after.position = restore.next;
  workload.AddEvent(std::move(after));
}

}  // namespace

absl::StatusOr<ReplayWorkload> TwoConcurrentRestores(const ConcurrentRestoresOptions& options) {
  if (options.archive_chunks == 0) return absl::InvalidArgumentError("the archive is empty");
  if (!(options.second_start >= 0 && options.second_start <= 1)) {
    return absl::InvalidArgumentError("the second restore's start must be in [0, 1]");
  }
  if (!(options.second_speed > 0)) {
    return absl::InvalidArgumentError("the second restore's speed must be > 0");
  }
  const uint64_t n = options.archive_chunks;
  const std::shared_ptr<const StreamOrder> order = SequentialOrder(0, n);
  const auto start = static_cast<uint64_t>(std::llround(options.second_start * n));
  ReplayWorkload workload;
  workload.accesses.reserve(2 * n);
  Restore first{0}, second{1};
  double credit = 0;
  uint64_t tick = 0;
  while (first.next < n || second.next < n) {
    StreamEvent clock;
    clock.kind = StreamEvent::Kind::kTime;
    clock.time = static_cast<double>(tick++);
    workload.AddEvent(std::move(clock));
    if (first.next < n) Read(workload, order, 1, first);
    if (first.next < start) continue;
    credit += options.second_speed;
    while (credit >= 1 && second.next < n) {
      Read(workload, order, options.second_speed, second);
      credit -= 1;
    }
  }
  return workload;
}

}  // namespace chunkcache
