#include "cache/trace/qemu_live_restore.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

constexpr uint32_t kGuestReader = 0;
constexpr uint32_t kCopyReader = 1;

// The target disk's copied clusters and the workload being built.
class LiveRestoreState {
 public:
  LiveRestoreState(const QemuLiveRestoreOptions& options, uint64_t disk_chunks)
      : options_(options),
        clusters_per_chunk_(options.chunk_size / options.cluster_size),
        disk_bytes_(disk_chunks * options.chunk_size),
        copied_(disk_chunks * clusters_per_chunk_, false),
        uncopied_in_chunk_(disk_chunks, clusters_per_chunk_) {
    result_.disk_chunks = disk_chunks;
    StreamEvent open;
    open.kind = StreamEvent::Kind::kOpen;
    open.stream = kBlockStreamId;
    open.order = SequentialOrder(0, disk_chunks);
    open.speed = options.copy_steps_per_request * static_cast<double>(options.copy_step) /
                 static_cast<double>(options.chunk_size);
    result_.workload.AddEvent(std::move(open));
  }

  // A guest request [offset, end) that stays within the disk.
  void Guest(uint64_t offset, uint64_t end, bool is_write) {
    ++result_.guest_requests;
    const uint64_t cluster = options_.cluster_size;
    uint64_t first = offset / cluster;
    uint64_t last = (end + cluster - 1) / cluster;  // exclusive
    if (is_write) {
      // Clusters covered whole are written without a backup read; a partly covered one
      // that is not copied yet is read from the backup first (copy-on-write).
      const uint64_t first_whole = (offset + cluster - 1) / cluster;
      const uint64_t end_whole = end / cluster;
      for (uint64_t c = first_whole; c < end_whole; ++c) MarkCopied(c);
      std::vector<uint64_t> partial;
      if (first < first_whole) partial.push_back(first);
      if (end_whole < last && (partial.empty() || partial.back() != end_whole)) {
        partial.push_back(end_whole);
      }
      for (uint64_t c : partial) {
        if (copied_[c]) continue;
        AddAccess(c / clusters_per_chunk_, AccessSource::kGuest, kGuestReader);
        MarkCopied(c);
        ++result_.clusters_copied_by_guest;
      }
    } else {
      CopyClusters(first, last, AccessSource::kGuest, kGuestReader,
                   result_.clusters_copied_by_guest);
    }
    ReportSkips();
    StreamEvent tick;
    tick.kind = StreamEvent::Kind::kTime;
    tick.time = static_cast<double>(result_.guest_requests);
    result_.workload.AddEvent(std::move(tick));
    copy_credit_ += options_.copy_steps_per_request;
    while (copy_credit_ >= 1 && CopyStep()) copy_credit_ -= 1;
  }

  void FinishCopy() {
    while (CopyStep()) {
    }
  }

  QemuLiveRestore Finish() {
    StreamEvent close;
    close.kind = StreamEvent::Kind::kClose;
    close.stream = kBlockStreamId;
    result_.workload.AddEvent(std::move(close));
    return std::move(result_);
  }

 private:
  // Copies the clusters of [first, last) not copied yet, counting them in `copied`: one backup
  // read (access) per chunk that holds any of them.
  void CopyClusters(uint64_t first, uint64_t last, AccessSource source, uint32_t reader,
                    uint64_t& copied) {
    for (uint64_t c = first; c < last;) {
      const uint64_t chunk = c / clusters_per_chunk_;
      const uint64_t chunk_end = std::min(last, (chunk + 1) * clusters_per_chunk_);
      bool read_backup = false;
      for (; c < chunk_end; ++c) {
        if (copied_[c]) continue;
        read_backup = true;
        MarkCopied(c);
        ++copied;
      }
      if (read_backup) AddAccess(chunk, source, reader);
    }
  }
  void MarkCopied(uint64_t cluster) {
    if (copied_[cluster]) return;
    copied_[cluster] = true;
    const uint64_t chunk = cluster / clusters_per_chunk_;
    if (--uncopied_in_chunk_[chunk] == 0) newly_complete_.push_back(chunk);
  }

  void AddAccess(uint64_t chunk, AccessSource source, uint32_t reader) {
    result_.workload.accesses.push_back({chunk, source, reader});
  }

  // Chunks the guest finished copying that the stream has not passed: it will skip them.
  void ReportSkips() {
    for (uint64_t chunk : newly_complete_) {
      if (chunk < stream_at_ / options_.chunk_size) continue;
      StreamEvent skip;
      skip.kind = StreamEvent::Kind::kSkip;
      skip.stream = kBlockStreamId;
      skip.position = chunk;
      result_.workload.AddEvent(std::move(skip));
    }
    newly_complete_.clear();
  }

  // Moves the stream past copied steps, then copies one step that reads the backup. False
  // when the disk is fully streamed.
  bool CopyStep() {
    while (stream_at_ < disk_bytes_) {
      const uint64_t step_end = std::min(disk_bytes_, stream_at_ + options_.copy_step);
      const uint64_t first = stream_at_ / options_.cluster_size;
      const uint64_t last = step_end / options_.cluster_size;
      bool reads_backup = false;
      for (uint64_t c = first; c < last && !reads_backup; ++c) reads_backup = !copied_[c];
      if (reads_backup) {
        MoveCursor();
        CopyClusters(first, last, AccessSource::kBackgroundCopy, kCopyReader,
                     result_.clusters_copied_by_stream);
        newly_complete_.clear();  // behind or at the cursor: the stream read them itself
        ++result_.copy_steps;
      }
      stream_at_ = step_end;
      MoveCursor();
      if (reads_backup) return true;
    }
    return false;
  }

  // Reports the chunk of the stream's next byte when it changed.
  void MoveCursor() {
    const uint64_t cursor = stream_at_ / options_.chunk_size;
    if (cursor == reported_cursor_) return;
    reported_cursor_ = cursor;
    std::vector<StreamEvent>& events = result_.workload.events;
    if (!events.empty() && events.back().kind == StreamEvent::Kind::kMove &&
        events.back().before_access == result_.workload.accesses.size()) {
      events.back().position = cursor;  // nothing happened since the last move
      return;
    }
    StreamEvent move;
    move.kind = StreamEvent::Kind::kMove;
    move.stream = kBlockStreamId;
    move.position = cursor;
    result_.workload.AddEvent(std::move(move));
  }

  const QemuLiveRestoreOptions& options_;
  const uint64_t clusters_per_chunk_;
  const uint64_t disk_bytes_;
  std::vector<bool> copied_;
  std::vector<uint64_t> uncopied_in_chunk_;
  std::vector<uint64_t> newly_complete_;
  uint64_t stream_at_ = 0;  // byte offset of the stream's next step
  uint64_t reported_cursor_ = 0;
  double copy_credit_ = 0;
  QemuLiveRestore result_;
};

}  // namespace

absl::StatusOr<QemuLiveRestore> ModelQemuLiveRestore(absl::Span<const BlockRequest> requests,
                                                     const QemuLiveRestoreOptions& options) {
  if (options.chunk_size == 0 || options.cluster_size == 0 || options.copy_step == 0) {
    return absl::InvalidArgumentError("chunk size, cluster size and copy step must be > 0");
  }
  if (options.chunk_size % options.cluster_size != 0 ||
      options.copy_step % options.cluster_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cluster size (", options.cluster_size, ") must divide the chunk size (",
                     options.chunk_size, ") and the copy step (", options.copy_step, ")"));
  }
  if (!(options.copy_steps_per_request > 0)) {
    return absl::InvalidArgumentError("the copy speed (steps per guest request) must be > 0");
  }
  uint64_t disk_end = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const BlockRequest& request = requests[i];
    if (request.length == 0 || request.op == BlockOp::kOther) continue;
    if (request.offset >
        std::numeric_limits<uint64_t>::max() - options.chunk_size - request.length) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, " at offset ", request.offset,
                                                     " length ", request.length,
                                                     " ends beyond 2^64 bytes"));
    }
    disk_end = std::max(disk_end, request.offset + request.length);
  }
  const uint64_t disk_chunks = (disk_end + options.chunk_size - 1) / options.chunk_size;
  if (disk_chunks > (uint64_t{1} << 32) / (options.chunk_size / options.cluster_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a disk of ", disk_chunks, " chunks has too many clusters to model"));
  }
  LiveRestoreState state(options, disk_chunks);
  for (const BlockRequest& request : requests) {
    if (request.length == 0 || request.op == BlockOp::kOther) continue;
    if (options.reads_only && request.op != BlockOp::kRead) continue;
    state.Guest(request.offset, request.offset + request.length, request.op == BlockOp::kWrite);
  }
  if (options.finish_copy) state.FinishCopy();
  return state.Finish();
}

}  // namespace chunkcache
