// ReadaheadDetector: decides, read by read, which chunks a session should fetch ahead.
//
// It tracks a few sequential streams (a restore streaming the disk while the guest reads
// elsewhere). A read continues a stream when it starts between the start of the stream's
// last read and a small gap past its end. A stream becomes sequential after three reads in a
// row that each move it forward (start after the previous read's start and end past the
// furthest read: repeats of one read by a herd of readers do not count; fewer than three
// would let random readers trigger prefetches by chance); then `initial_window` chunks
// past the read is fetched, and the window doubles, up to `max_window` (or twice the chunks of
// the stream's latest read, if that is more: a reader of large ranges waits for every chunk
// of its next read, so the window has to cover it), each time the
// reader arrives in a chunk that readahead requested. A read that continues no stream starts
// a new one (replacing the least recently used) with no window: random readers trigger no
// prefetch, and a stream that jumps starts over.
//
// A reader that reads downwards (a tool restoring from the end) is a descending stream: a read
// that continues no stream, starts below the lowest read of a stream that never moved forward,
// and ends within max_gap_bytes of that read's start (or in the entry just below it), moves that
// stream down. Three reads in a row that each move it down make it sequential, as a
// `reader_descending` stream for the policy; it gets no readahead. The check runs only for a
// read that continues no ascending stream, so an ascending reader pays nothing for it. Reads
// inside the span a descending stream has read (a chunk read in ascending pieces) stay its own.
//
//   ReadaheadDetector detector(options.readahead);
//   ReadaheadPlan plan = detector.OnRead(offset, end, first_entry, last_entry, chunk_count);
//   for (size_t e = plan.first; e < plan.first + plan.count; ++e) Prefetch(e);
//
// Not thread-safe: the session calls it under its own mutex.
#ifndef CHUNKCACHE_CACHE_INTERNAL_READAHEAD_DETECTOR_H_
#define CHUNKCACHE_CACHE_INTERNAL_READAHEAD_DETECTOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "cache/cache_options.h"

namespace chunkcache::internal {

struct ReadaheadPlan {
  size_t first = 0;  // index entries [first, first + count) to prefetch
  size_t count = 0;
  size_t stream = 0;  // for Unrequested
  // The stream the read belongs to (whether or not anything is planned): its slot (0 ..
  // options.streams - 1), whether the read started it (the slot's previous stream, if any,
  // is gone) and whether it is sequential (three reads in a row moved it forward, whether or
  // not readahead is on). The session registers sequential streams with the policy.
  size_t reader = 0;
  size_t reader_next_entry = 0;  // past the furthest entry the stream has read
  bool reader_started = false;
  bool reader_sequential = false;
  // The stream reads downwards (see above): reader_next_entry is then the entry below the
  // lowest it has read (0 once it read entry 0), and no readahead is planned for it.
  bool reader_descending = false;
};

class ReadaheadDetector {
 public:
  explicit ReadaheadDetector(const ReadaheadOptions& options);

  // A read of archive bytes [offset, end) that touched index entries
  // [first_entry, last_entry] of `entry_count`, by `reader` (ChunkRequest::requester).
  ReadaheadPlan OnRead(uint64_t offset, uint64_t end, size_t first_entry, size_t last_entry,
                       size_t entry_count, uint64_t reader = 0);

  // The largest window of any stream (for stats and tests).
  size_t largest_window() const;

  // What a read starting at `offset`, in index entry `entry`, by `reader` continues, as the
  // next OnRead will see it (asked before that OnRead, once per read; changes nothing).
  struct Continuation {
    // The slot of the sequential stream (plan.reader_sequential) the read continues; nullopt
    // when it continues none.
    std::optional<size_t> sequential_slot;
    // The read continues a stream that has a readahead window.
    bool windowed_stream = false;
    // The read is a sequential reader's: it continues a stream that has a readahead window, or
    // `reader` last moved such a stream and the read lies within that window around the
    // stream's furthest entry. The second case is a reader with many reads in flight (a
    // pipelined restore) whose reads arrive a little out of order; another reader's read there
    // (a guest's) is not.
    bool sequential_reader = false;
  };
  // The read is of [offset, end), over entries [entry, last_entry] (which tell whether it
  // continues a descending stream).
  Continuation Continues(uint64_t offset, uint64_t end, size_t entry, size_t last_entry,
                         uint64_t reader) const;

  // The caller requested only [plan.first, first_unrequested) of `plan` (its pin budget ran
  // out): the rest is planned again at the stream's next read.
  void Unrequested(const ReadaheadPlan& plan, size_t first_unrequested);

 private:
  struct Stream {
    bool in_use = false;
    uint64_t last_start = 0;
    uint64_t next_offset = 0;    // end of the furthest read
    size_t last_entry = 0;       // furthest entry read
    size_t reads = 0;            // reads in sequence
    size_t window = 0;           // 0: not sequential (yet)
    size_t requested_until = 0;  // entries below this were requested by readahead
    uint64_t last_used = 0;
    uint64_t reader = 0;  // whose read continued it last
    // Reads in sequence that each moved it down (0: it does not read downwards), and the entry
    // of the lowest read (the start of whose is last_start then).
    size_t down_reads = 0;
    size_t low_entry = 0;
  };
  static constexpr size_t kSequentialReads = 3;
  // Whether a read starting at `offset` continues `stream`.
  bool ContinuesStream(const Stream& stream, uint64_t offset) const;
  // Whether a read of [offset, end) ending in entry `last_entry` moves `stream` down.
  bool ContinuesDownwards(const Stream& stream, uint64_t offset, uint64_t end,
                          size_t last_entry) const;
  // Makes `slot` a new stream of one read (a jump, or a reader seen for the first time).
  ReadaheadPlan StartStream(Stream& slot, uint64_t offset, uint64_t end, size_t first_entry,
                            size_t last_entry, uint64_t reader);
  // The plan of a read by the descending stream `stream` (no readahead).
  ReadaheadPlan DescendingPlan(const Stream& stream) const;

  ReadaheadOptions options_;
  std::vector<Stream> streams_;
  uint64_t tick_ = 0;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_READAHEAD_DETECTOR_H_
