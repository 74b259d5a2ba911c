// QemuLiveRestore: qemu's live-restore from a PBS backup, modelled exactly at the level that
// decides which chunks are read from the backup, and when.
//
// In qemu the PBS drive is the backing of an `alloc-track` filter over the target disk. Two
// things read the backup:
//   - the `block-stream` job copies the disk linearly, front to back, in `copy_step` pieces
//     (qemu's default 512 KiB); it skips every piece that is already copied (no backup read,
//     no time spent), and copies a piece that is partly copied only where it is not;
//   - guest requests: a READ that touches a cluster (`cluster_size`, qemu's copy-on-read
//     granularity) not yet copied reads that whole cluster from the backup and writes it to
//     the target (copy-on-read); a WRITE goes to the target: the clusters it covers whole are
//     copied without a backup read, a cluster it covers only in part and that is not copied
//     yet is first read from the backup (the rest of the cluster must be kept).
// Once a cluster is copied, by either, it is never read from the backup again: the guest reads
// the target. The model tracks one "copied" bit per cluster, so it never reads a region twice.
//
// A backup read of a cluster is an access to the chunk holding it (`chunk_size`, a multiple
// of `cluster_size`): one access per chunk per guest request (AccessSource::kGuest, reader 0)
// and one per chunk per copy step (kBackgroundCopy, reader 1). Guest requests that only touch
// copied clusters make no access. The replay counts the misses of those accesses: guest
// misses are what the guest waits for (latency), guest + copy misses are the chunks fetched
// from the backup server (cost, bandwidth).
//
// Time is counted in guest requests: after every guest request (those kept: READ, and WRITE
// unless `reads_only`), the copy may make `copy_steps_per_request` more steps that read the
// backup (a real number: 0.25 = one step every 4 requests). When the guest trace ends the copy
// runs on alone to the end of the disk (`finish_copy`), so that the fetches counted are the
// whole restore's. The disk spans the trace's highest request end (READ or WRITE), rounded up
// to whole chunks.
//
// The stream job is also reported as a stream (StreamKnowledge) over the chunk ids 0 .. n-1:
// opened at 0 before the first access, its cursor moved to the chunk of the next byte it will
// copy whenever that changes, every chunk the guest finished copying ahead of the cursor
// reported as skipped (the job will pass it), closed at the end; its speed is
// copy_steps_per_request * copy_step / chunk_size chunks per guest request, and the clock
// (StreamKnowledge::SetTime) is the number of guest requests made, set after each one.
//
//   absl::StatusOr<QemuLiveRestore> model = ModelQemuLiveRestore(requests, {});
//   absl::StatusOr<ReplayResult> r = PolicyOnlyReplay(model->workload, "index", 64);
//   // r->guest.misses: guest-visible misses; r->misses(): upstream fetches
#ifndef CHUNKCACHE_CACHE_TRACE_QEMU_LIVE_RESTORE_H_
#define CHUNKCACHE_CACHE_TRACE_QEMU_LIVE_RESTORE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cache/trace/block_request.h"
#include "cache/trace/replay_workload.h"

namespace chunkcache {

struct QemuLiveRestoreOptions {
  uint64_t chunk_size = 4 << 20;
  uint64_t cluster_size = 64 << 10;  // divides chunk_size and copy_step
  uint64_t copy_step = 512 << 10;
  double copy_steps_per_request = 1;  // copy speed relative to the guest; > 0
  bool reads_only = false;            // drop the guest's WRITE requests
  bool finish_copy = true;
};

struct QemuLiveRestore {
  ReplayWorkload workload;
  uint64_t disk_chunks = 0;
  uint64_t guest_requests = 0;  // requests kept
  uint64_t clusters_copied_by_guest = 0;
  uint64_t clusters_copied_by_stream = 0;
  uint64_t copy_steps = 0;  // steps that read the backup
};

// The stream job's StreamId in the workload's events.
inline constexpr StreamId kBlockStreamId = 1;

// INVALID_ARGUMENT for sizes of 0, a cluster size that does not divide the chunk size and the
// copy step, a copy speed <= 0, or a request whose end overflows.
absl::StatusOr<QemuLiveRestore> ModelQemuLiveRestore(absl::Span<const BlockRequest> requests,
                                                     const QemuLiveRestoreOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_QEMU_LIVE_RESTORE_H_
