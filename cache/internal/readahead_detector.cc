#include "cache/internal/readahead_detector.h"

#include <algorithm>

namespace chunkcache::internal {

ReadaheadDetector::ReadaheadDetector(const ReadaheadOptions& options)
    : options_(options), streams_(std::max<size_t>(options.streams, 1)) {}

ReadaheadPlan ReadaheadDetector::OnRead(uint64_t offset, uint64_t end, size_t first_entry,
                                        size_t last_entry, size_t entry_count, uint64_t reader) {
  // A reader that asks for many chunks at once (a 4 MiB StreamRange piece of small chunks)
  // waits for the whole read: the window must reach past its next read, not just a few chunks.
  const size_t read_entries = last_entry >= first_entry ? last_entry - first_entry + 1 : 1;
  const size_t max_window = std::max(options_.max_window, 2 * read_entries);
  ++tick_;
  Stream* stream = nullptr;
  for (Stream& s : streams_) {
    if (ContinuesStream(s, offset)) {
      stream = &s;
      break;
    }
  }
  if (stream == nullptr) {
    // Only a read that continues no ascending stream can be a descending reader's.
    for (Stream& s : streams_) {
      if (!ContinuesDownwards(s, offset, end, last_entry)) continue;
      s.down_reads += 1;
      s.last_start = offset;
      s.low_entry = std::min(s.low_entry, first_entry);
      s.last_used = tick_;
      s.reader = reader;
      return DescendingPlan(s);
    }
    Stream* oldest = &streams_[0];
    for (Stream& s : streams_) {
      if (!s.in_use || s.last_used < oldest->last_used) oldest = &s;
      if (!s.in_use) break;
    }
    return StartStream(*oldest, offset, end, first_entry, last_entry, reader);
  }
  if (stream->down_reads > 0 && end <= stream->next_offset) {
    // A piece of what the descending stream read already (a chunk read in ascending pieces).
    stream->last_used = tick_;
    stream->reader = reader;
    return DescendingPlan(*stream);
  }
  if (stream->down_reads + 1 >= kSequentialReads) {
    // A descending reader turned upwards: a new stream, as after a jump.
    return StartStream(*stream, offset, end, first_entry, last_entry, reader);
  }
  // One read below the stream's first was another reader's (a guest's next to a starting
  // restore): the stream reads upwards after all.
  stream->down_reads = 0;
  ReadaheadPlan plan;
  plan.reader = static_cast<size_t>(stream - streams_.data());

  const bool new_chunk = last_entry > stream->last_entry;
  // Only a read that moves the stream forward counts towards "sequential": a herd of readers
  // of one range (or one client retrying it) repeats the same read and must not look like a
  // stream that deserves readahead.
  const bool advances = offset > stream->last_start && end > stream->next_offset;
  stream->last_used = tick_;
  stream->reader = reader;
  stream->last_start = std::max(stream->last_start, offset);
  stream->next_offset = std::max(stream->next_offset, end);
  if (advances) stream->reads += 1;
  if (new_chunk && stream->window > 0 &&
      std::max(first_entry, stream->last_entry + 1) < stream->requested_until) {
    // The reader arrived in a chunk readahead fetched for it: the guess paid off.
    stream->window = std::min(stream->window * 2, max_window);
  }
  stream->last_entry = std::max(stream->last_entry, last_entry);
  plan.reader_sequential = stream->reads >= kSequentialReads;
  plan.reader_next_entry = stream->last_entry + 1;
  if (!options_.enabled) return plan;
  if (stream->window == 0 && stream->reads >= kSequentialReads) {
    stream->window = std::min(options_.initial_window, max_window);
  }
  if (stream->window == 0) return plan;

  const size_t want_end = std::min(entry_count, stream->last_entry + 1 + stream->window);
  const size_t from = std::max(stream->requested_until, stream->last_entry + 1);
  if (from >= want_end) return plan;
  stream->requested_until = want_end;
  plan.first = from;
  plan.count = want_end - from;
  plan.stream = plan.reader;
  return plan;
}

void ReadaheadDetector::Unrequested(const ReadaheadPlan& plan, size_t first_unrequested) {
  if (plan.stream >= streams_.size()) return;
  Stream& stream = streams_[plan.stream];
  if (stream.in_use && stream.requested_until == plan.first + plan.count &&
      first_unrequested >= plan.first && first_unrequested < stream.requested_until) {
    stream.requested_until = first_unrequested;
  }
}

bool ReadaheadDetector::ContinuesDownwards(const Stream& stream, uint64_t offset, uint64_t end,
                                           size_t last_entry) const {
  // A stream that moved forward (reads > 1) is an ascending reader's, whatever it reads next.
  return stream.in_use && stream.reads == 1 && offset < stream.last_start &&
         (end + options_.max_gap_bytes >= stream.last_start || last_entry + 1 >= stream.low_entry);
}

ReadaheadPlan ReadaheadDetector::StartStream(Stream& slot, uint64_t offset, uint64_t end,
                                             size_t first_entry, size_t last_entry,
                                             uint64_t reader) {
  slot = Stream{true, offset, end, last_entry, 1, 0, last_entry + 1, tick_, reader, 0, first_entry};
  ReadaheadPlan started;
  started.reader = static_cast<size_t>(&slot - streams_.data());
  started.reader_started = true;
  return started;
}

ReadaheadPlan ReadaheadDetector::DescendingPlan(const Stream& stream) const {
  ReadaheadPlan plan;
  plan.reader = static_cast<size_t>(&stream - streams_.data());
  plan.reader_descending = true;
  plan.reader_sequential = stream.down_reads + 1 >= kSequentialReads;
  plan.reader_next_entry = stream.low_entry > 0 ? stream.low_entry - 1 : 0;
  return plan;
}

bool ReadaheadDetector::ContinuesStream(const Stream& stream, uint64_t offset) const {
  return stream.in_use && offset >= stream.last_start &&
         offset <= stream.next_offset + options_.max_gap_bytes;
}

ReadaheadDetector::Continuation ReadaheadDetector::Continues(uint64_t offset, uint64_t end,
                                                             size_t entry, size_t last_entry,
                                                             uint64_t reader) const {
  Continuation continuation;
  bool continues_upwards = false;
  for (size_t slot = 0; slot < streams_.size(); ++slot) {
    const Stream& s = streams_[slot];
    if (!ContinuesStream(s, offset)) continue;
    continues_upwards = true;
    // OnRead takes the first stream that continues.
    const bool descending_piece = s.down_reads + 1 >= kSequentialReads && end <= s.next_offset;
    if (s.reads >= kSequentialReads || descending_piece) {
      continuation.sequential_slot = slot;
    }
    continuation.windowed_stream = s.window > 0;
    break;
  }
  if (!continues_upwards) {
    // A descending stream's next read starts below it: OnRead's second look.
    for (size_t slot = 0; slot < streams_.size(); ++slot) {
      const Stream& s = streams_[slot];
      if (!ContinuesDownwards(s, offset, end, last_entry)) continue;
      // OnRead takes the first stream that continues downwards.
      if (s.down_reads + 1 >= kSequentialReads) continuation.sequential_slot = slot;
      break;
    }
  }
  continuation.sequential_reader = continuation.windowed_stream;
  for (size_t slot = 0; slot < streams_.size() && !continuation.sequential_reader; ++slot) {
    const Stream& s = streams_[slot];
    continuation.sequential_reader = s.in_use && s.window > 0 && s.reader == reader &&
                                     entry + s.window >= s.last_entry &&
                                     entry <= s.last_entry + s.window;
  }
  return continuation;
}

size_t ReadaheadDetector::largest_window() const {
  size_t largest = 0;
  for (const Stream& s : streams_) {
    if (s.in_use) largest = std::max(largest, s.window);
  }
  return largest;
}

}  // namespace chunkcache::internal
