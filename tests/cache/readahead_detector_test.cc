// ReadaheadDetector: sequential streams get a growing window, random readers none.
#include "cache/internal/readahead_detector.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace chunkcache::internal {
namespace {

constexpr uint64_t kChunk = 1 << 20;

ReadaheadPlan ReadChunk(ReadaheadDetector& detector, size_t entry, size_t count = 1000) {
  return detector.OnRead(entry * kChunk, (entry + 1) * kChunk, entry, entry, count);
}

TEST(ReadaheadDetectorTest, SequentialReaderGetsADoublingWindowUpToTheCap) {
  ReadaheadOptions options;
  options.initial_window = 2;
  options.max_window = 16;
  ReadaheadDetector detector(options);
  EXPECT_EQ(ReadChunk(detector, 0).count, 0u);  // one read proves nothing
  std::vector<size_t> windows;
  size_t requested_until = 1;
  for (size_t entry = 1; entry < 12; ++entry) {
    ReadaheadPlan plan = ReadChunk(detector, entry);
    if (plan.count > 0) {
      EXPECT_EQ(plan.first, std::max(requested_until, entry + 1));  // no chunk asked twice
      requested_until = plan.first + plan.count;
    }
    windows.push_back(detector.largest_window());
  }
  EXPECT_EQ(windows[0], 0u);  // two reads prove nothing either
  EXPECT_EQ(windows[1], 2u);
  EXPECT_EQ(windows[2], 4u);
  EXPECT_EQ(windows[3], 8u);
  EXPECT_EQ(windows[4], 16u);
  EXPECT_EQ(windows.back(), 16u);
  EXPECT_EQ(requested_until, 11 + 1 + 16u);  // always a full window ahead of the reader
}

// Reads of 8 chunks each (a 4 MiB StreamRange piece of 512 KiB chunks): the window grows past
// max_window to twice the read, so that the next read's chunks are all on their way.
TEST(ReadaheadDetectorTest, WindowCoversTheNextOfLargeReads) {
  ReadaheadOptions options;
  options.initial_window = 2;
  options.max_window = 4;
  ReadaheadDetector detector(options);
  std::vector<size_t> windows;
  size_t requested_until = 0;
  for (size_t read = 0; read < 8; ++read) {
    const size_t first = read * 8;
    ReadaheadPlan plan =
        detector.OnRead(first * kChunk, (first + 8) * kChunk, first, first + 7, 1000);
    if (plan.count > 0) {
      EXPECT_GE(plan.first, std::max(requested_until, first + 8));  // no chunk asked twice
      requested_until = plan.first + plan.count;
    }
    windows.push_back(detector.largest_window());
  }
  EXPECT_EQ(windows, (std::vector<size_t>{0, 0, 2, 4, 8, 16, 16, 16}));
  EXPECT_EQ(requested_until, 64 + 16u);
}

TEST(ReadaheadDetectorTest, SmallSequentialReadsInsideAChunkStartAfterThreeReads) {
  ReadaheadDetector detector(ReadaheadOptions{});
  EXPECT_EQ(detector.OnRead(0, 4096, 0, 0, 100).count, 0u);
  EXPECT_EQ(detector.OnRead(4096, 8192, 0, 0, 100).count, 0u);
  ReadaheadPlan plan = detector.OnRead(8192, 12288, 0, 0, 100);
  EXPECT_EQ(plan.first, 1u);
  EXPECT_EQ(plan.count, 2u);
}

TEST(ReadaheadDetectorTest, RandomReaderGetsNothing) {
  ReadaheadDetector detector(ReadaheadOptions{});
  const size_t entries[] = {500, 17, 803, 42, 311, 999, 5, 650, 128, 77, 430, 260};
  for (size_t entry : entries) {
    EXPECT_EQ(ReadChunk(detector, entry).count, 0u) << entry;
  }
  EXPECT_EQ(detector.largest_window(), 0u);
}

// A herd of readers of one range (or one client retrying it) repeats a read that does not
// move anything forward: that is not a sequential stream, however many times it happens.
TEST(ReadaheadDetectorTest, RepeatsOfOneReadStartNoReadahead) {
  ReadaheadDetector detector(ReadaheadOptions{});
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(detector.OnRead(0, 4 * kChunk, 0, 3, 100).count, 0u) << "read " << i;
  }
  EXPECT_EQ(detector.largest_window(), 0u);
  // Re-reads inside the range already read (a retry of a piece) do not count either.
  EXPECT_EQ(detector.OnRead(kChunk, 2 * kChunk, 1, 1, 100).count, 0u);
  EXPECT_EQ(detector.largest_window(), 0u);
  // The same reader moving forward makes it a stream: its first read and two that advance.
  EXPECT_EQ(detector.OnRead(4 * kChunk, 5 * kChunk, 4, 4, 100).count, 0u);
  EXPECT_GT(detector.OnRead(5 * kChunk, 6 * kChunk, 5, 5, 100).count, 0u);
}

TEST(ReadaheadDetectorTest, TwoInterleavedStreamsAreBothRecognised) {
  ReadaheadDetector detector(ReadaheadOptions{});
  size_t prefetched_a = 0;
  size_t prefetched_b = 0;
  for (size_t i = 0; i < 8; ++i) {
    prefetched_a += ReadChunk(detector, i).count;
    prefetched_b += ReadChunk(detector, 500 + i).count;
    ReadChunk(detector, 900 - 37 * i);  // random reads in between
  }
  EXPECT_GT(prefetched_a, 8u);
  EXPECT_GT(prefetched_b, 8u);
}

TEST(ReadaheadDetectorTest, StopsAtTheEndOfTheArchiveAndCanBeDisabled) {
  ReadaheadDetector detector(ReadaheadOptions{});
  for (size_t entry = 0; entry < 10; ++entry) {
    ReadaheadPlan plan = ReadChunk(detector, entry, 10);
    EXPECT_LE(plan.first + plan.count, 10u);
  }
  ReadaheadOptions off;
  off.enabled = false;
  ReadaheadDetector disabled(off);
  for (size_t entry = 0; entry < 10; ++entry) EXPECT_EQ(ReadChunk(disabled, entry).count, 0u);
}

// What a one-byte read at `offset` (in its chunk's entry) continues.
ReadaheadDetector::Continuation ContinuesAt(const ReadaheadDetector& detector, uint64_t offset) {
  const size_t entry = offset / kChunk;
  return detector.Continues(offset, offset + 1, entry, entry, /*reader=*/0);
}

// Whether a read at `offset` continues a stream that has a readahead window.
bool ContinuesWindowedStream(const ReadaheadDetector& detector, uint64_t offset) {
  return ContinuesAt(detector, offset).windowed_stream;
}

TEST(ReadaheadDetectorTest, ContinuesSequentialStreamOnlyForAStreamWithAWindow) {
  ReadaheadDetector detector(ReadaheadOptions{});
  EXPECT_FALSE(ContinuesWindowedStream(detector, 0));
  ReadChunk(detector, 0);
  ReadChunk(detector, 1);
  EXPECT_FALSE(ContinuesWindowedStream(detector, 2 * kChunk));  // not sequential yet
  EXPECT_FALSE(ContinuesAt(detector, 2 * kChunk).sequential_slot.has_value());
  ReadChunk(detector, 2);
  EXPECT_TRUE(ContinuesWindowedStream(detector, 2 * kChunk + 4096));  // the rest of chunk 2
  EXPECT_TRUE(ContinuesWindowedStream(detector, 3 * kChunk));
  EXPECT_EQ(ContinuesAt(detector, 3 * kChunk).sequential_slot, std::optional<size_t>(0));
  EXPECT_FALSE(ContinuesWindowedStream(detector, kChunk));        // behind the stream
  EXPECT_FALSE(ContinuesWindowedStream(detector, 500 * kChunk));  // far ahead of it
  EXPECT_FALSE(ContinuesAt(detector, 500 * kChunk).sequential_slot.has_value());
  EXPECT_EQ(detector.largest_window(), 2u);  // asking changed nothing
}

TEST(ReadaheadDetectorTest, OutOfOrderReadsOfTheStreamsReaderAreSequentialOthersAreNot) {
  ReadaheadOptions options;
  options.initial_window = 4;
  ReadaheadDetector detector(options);
  constexpr uint64_t kRestore = 7;
  constexpr uint64_t kGuest = 8;
  for (size_t entry = 0; entry < 3; ++entry) {
    detector.OnRead(entry * kChunk, (entry + 1) * kChunk, entry, entry, 1000, kRestore);
  }
  ASSERT_EQ(detector.largest_window(), 4u);
  // The restore's reads in flight arrive a little out of order: ahead of the stream's end by
  // more than the gap, or behind its furthest read, within the window.
  auto sequential = [&](size_t entry, uint64_t reader) {
    return detector.Continues(entry * kChunk, entry * kChunk + 1, entry, entry, reader)
        .sequential_reader;
  };
  EXPECT_TRUE(sequential(5, kRestore));
  EXPECT_TRUE(sequential(0, kRestore));
  EXPECT_FALSE(sequential(20, kRestore));  // beyond the window
  // The same places read by another reader are random reads; continuing the stream is not.
  EXPECT_FALSE(sequential(5, kGuest));
  EXPECT_FALSE(sequential(0, kGuest));
  EXPECT_TRUE(sequential(3, kGuest));
}

TEST(ReadaheadDetectorTest, UnrequestedRestIsPlannedAgainAtTheNextRead) {
  ReadaheadDetector detector(ReadaheadOptions{});
  ReadChunk(detector, 0);
  ReadChunk(detector, 1);
  ReadaheadPlan plan = ReadChunk(detector, 2);  // 3 and 4
  ASSERT_EQ(plan.first, 3u);
  ASSERT_EQ(plan.count, 2u);
  detector.Unrequested(plan, 4);  // only 3 was requested
  plan = ReadChunk(detector, 3);
  EXPECT_EQ(plan.first, 4u);
}

// A reader that reads downwards (a restore from the end) is a descending stream after three
// reads: its next entry is the one below its lowest read, it gets no readahead, and its reads,
// including the pieces of a chunk it reads upwards, continue its slot.
TEST(ReadaheadDetectorTest, DescendingReaderIsADescendingStreamWithoutReadahead) {
  ReadaheadDetector detector(ReadaheadOptions{});
  EXPECT_TRUE(ReadChunk(detector, 50).reader_started);
  ReadaheadPlan plan = ReadChunk(detector, 49);
  EXPECT_FALSE(plan.reader_started);
  EXPECT_FALSE(plan.reader_sequential);  // two reads prove nothing
  EXPECT_FALSE(detector.Continues(48 * kChunk, 49 * kChunk, 48, 48, 0).sequential_slot);
  plan = ReadChunk(detector, 48);
  EXPECT_TRUE(plan.reader_sequential);
  EXPECT_TRUE(plan.reader_descending);
  EXPECT_EQ(plan.reader_next_entry, 47u);
  EXPECT_EQ(plan.count, 0u);
  const size_t slot = plan.reader;
  // Its next read, asked before OnRead: continues it.
  EXPECT_EQ(detector.Continues(47 * kChunk, 48 * kChunk, 47, 47, 0).sequential_slot,
            std::optional<size_t>(slot));
  // Chunk 47 in two pieces, the lower first.
  plan = detector.OnRead(47 * kChunk, 47 * kChunk + kChunk / 2, 47, 47, 1000);
  EXPECT_EQ(plan.reader, slot);
  EXPECT_TRUE(plan.reader_descending);
  EXPECT_EQ(plan.reader_next_entry, 46u);
  EXPECT_EQ(detector.Continues(47 * kChunk + kChunk / 2, 48 * kChunk, 47, 47, 0).sequential_slot,
            std::optional<size_t>(slot));
  plan = detector.OnRead(47 * kChunk + kChunk / 2, 48 * kChunk, 47, 47, 1000);
  EXPECT_EQ(plan.reader, slot);
  EXPECT_TRUE(plan.reader_descending && plan.reader_sequential);
  EXPECT_EQ(plan.reader_next_entry, 46u);
  for (size_t entry = 46; entry > 40; --entry) {
    plan = ReadChunk(detector, entry);
    EXPECT_EQ(plan.reader, slot);
    EXPECT_EQ(plan.reader_next_entry, entry - 1);
    EXPECT_EQ(plan.count, 0u);
  }
  EXPECT_EQ(detector.largest_window(), 0u);
  // A re-read inside what it read is its own; reading on upwards past its first read makes it
  // a new stream, not a descending one.
  EXPECT_TRUE(ReadChunk(detector, 45).reader_descending);
  plan = ReadChunk(detector, 51);
  EXPECT_TRUE(plan.reader_started);
  EXPECT_FALSE(plan.reader_descending);
  // A read far below continues nothing.
  EXPECT_FALSE(detector.Continues(10 * kChunk, 11 * kChunk, 10, 10, 0).sequential_slot);
}

// A read just below a starting ascending reader's first read (a guest's) does not turn the
// reader into a descending stream: it is sequential, ascending, with readahead, as without it.
TEST(ReadaheadDetectorTest, AReadBelowAStartingAscendingReaderLeavesItAscending) {
  ReadaheadDetector detector(ReadaheadOptions{});
  ReadChunk(detector, 20);
  EXPECT_TRUE(ReadChunk(detector, 19).reader_descending);  // might be a descending reader
  ReadChunk(detector, 21);
  ReadaheadPlan plan = ReadChunk(detector, 22);
  EXPECT_TRUE(plan.reader_sequential);
  EXPECT_FALSE(plan.reader_descending);
  EXPECT_EQ(plan.reader_next_entry, 23u);
  EXPECT_GT(plan.count, 0u);
}

}  // namespace
}  // namespace chunkcache::internal
