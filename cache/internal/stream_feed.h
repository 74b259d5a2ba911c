// StreamFeed: the readers' streams and hinted uses the cache's sessions report, held until
// the cache hands them to its policy's StreamKnowledge under space_mu_ (Apply).
//
// Reports never touch the policy: opening a stream or adding hinted uses takes only the
// feed's own mutex (a leaf; rare calls), and a stream's moves are relaxed stores of its
// cursor (ReaderStream::MoveTo). Apply, run where the cache drains buffered hits into the
// policy, opens the streams opened since, passes every open stream's latest cursor and its
// speed (entries per second over the time since its previous Apply, smoothed), closes the
// ones closed since, and sets the policy's clock (seconds since the feed was made).
//
//   StreamFeed feed;
//   ReaderStream stream = feed.Open(order, 0, StreamDirection::kForward);
//   stream.MoveTo(5);
//   feed.Apply(*policy->stream_knowledge());  // under the policy's lock
//
// Thread-safe; Apply is called by one thread at a time (under the policy's lock).
#ifndef CHUNKCACHE_CACHE_INTERNAL_STREAM_FEED_H_
#define CHUNKCACHE_CACHE_INTERNAL_STREAM_FEED_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "cache/reader_stream.h"
#include "cache/stream_knowledge.h"
#include "format/digest.h"

namespace chunkcache::internal {

// One registered stream: the reader's side (cursor, closed) is written without a lock; the
// policy's side (opened, the last cursor and time it was told) only by Apply.
struct LiveStream {
  LiveStream(StreamId id, std::shared_ptr<const StreamOrder> order, uint64_t cursor,
             StreamDirection direction, uint64_t end)
      : id(id),
        order(std::move(order)),
        direction(direction),
        begin(cursor),
        end(end),
        cursor(cursor) {}

  const StreamId id;
  const std::shared_ptr<const StreamOrder> order;
  const StreamDirection direction;
  // A declared range [begin, end) (end < kNoEnd), or a reader that reads on to the end.
  const uint64_t begin;
  const uint64_t end;
  std::atomic<uint64_t> cursor;
  std::atomic<bool> closed{false};

  // Apply's bookkeeping.
  bool opened = false;
  bool told_closed = false;
  uint64_t told_cursor = 0;
  uint64_t sample_cursor = 0;  // the cursor when the speed was last estimated, and when
  double sample_at = 0;
  double speed = 0;
};

class StreamFeed {
 public:
  // At most `max_open` streams are open at once (Open refuses more).
  explicit StreamFeed(size_t max_open = std::numeric_limits<size_t>::max());

  static constexpr uint64_t kNoEnd = std::numeric_limits<uint64_t>::max();

  // `end` < kNoEnd: the reader declared that it reads positions [cursor, end) only
  // (StreamKnowledge::SetStreamRange). An empty handle when max_open streams are open.
  ReaderStream Open(std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                    StreamDirection direction, uint64_t end = kNoEnd);
  // Streams opened and not closed yet (closed ones leave at the next Apply).
  size_t open_streams() const;
  void AddHintedUses(const ChunkDigest& key, uint32_t uses);
  // Hands everything reported since the last call to `knowledge`.
  void Apply(StreamKnowledge& knowledge);

  // A stream's speed before its cursor has moved twice (entries per second): about a
  // restore's rate of 4 MiB chunks, so a new stream ranks like a running one.
  static constexpr double kInitialSpeed = 64;
  // Speeds are re-estimated only over at least this much time, so that the bursts of a
  // reader with many reads in flight average out.
  static constexpr double kMinSampleSeconds = 0.05;

 private:
  double Now() const;

  const std::chrono::steady_clock::time_point start_;
  const size_t max_open_;
  mutable std::mutex mu_;
  StreamId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::shared_ptr<LiveStream>> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<ChunkDigest, uint32_t>> hinted_uses_ ABSL_GUARDED_BY(mu_);
  // Apply's copy of streams_, reused so that an Apply allocates nothing.
  std::vector<std::shared_ptr<LiveStream>> applying_;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_STREAM_FEED_H_
