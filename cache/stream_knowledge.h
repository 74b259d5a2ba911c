// StreamKnowledge: what the cache knows about its readers' future, fed to a policy that can
// use it (the index-aware policy, cache/policies/index_aware_policy.h).
//
// A restore reads its archive in index order, so once a reader streams, the cache knows which
// chunks it will read next and which it will never read again. The feeder (the cache's
// sessions, or the trace simulator) registers each stream with the digests of its index in
// order, its cursor (the next position it reads), its direction, its speed and, when the reader
// declared it, its range, moves the
// cursor as the stream reads, and closes the stream when the reader goes away. Positions the
// stream will pass without reading (qemu's block-stream skips regions the guest already
// copied) are reported with SkipPosition. Hinted chunks (a snapshot's most referenced ones)
// get their number of future uses with AddHintedUses; each later read consumes one.
//
// From this, each chunk has a known next use (the earliest time any open stream reaches it:
// distance from the cursor in positions / speed), or is dead (some open stream's index or a
// hint names it, but every stream is past it or skips it and no hinted use is left), or has
// an unknown future (nothing names it). A key that a reader which is not a registered stream
// (a guest's random reads) also used has no known next use from that reader; the policy
// estimates it from the time since that use (SetTime gives the clock).
//
//   if (StreamKnowledge* knowledge = policy->stream_knowledge()) {
//     knowledge->OpenStream(id, order, /*cursor=*/0, StreamDirection::kForward, /*speed=*/1);
//     knowledge->MoveStream(id, 1);
//     knowledge->CloseStream(id);
//   }
//
// Speeds are in positions per unit of time; the unit is the feeder's, the same for all
// streams of one policy. Not thread-safe: called under the same lock as the policy.
#ifndef CHUNKCACHE_CACHE_STREAM_KNOWLEDGE_H_
#define CHUNKCACHE_CACHE_STREAM_KNOWLEDGE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "format/digest.h"

namespace chunkcache {

using StreamId = uint64_t;

// The digests a stream reads, position by position (index entry i at position i). Streams
// of one archive share one order.
using StreamOrder = std::vector<ChunkDigest>;

enum class StreamDirection { kForward, kBackward };

// The heap an order of `entries` positions with `distinct` keys costs once a stream of it is
// registered: the order itself (32 bytes a position), the index-aware policy's position index
// of it (a hash-map slot of digest and position vector, at its usual load, and the vector's
// allocation: about 128 bytes a distinct key, and 8 bytes a position), and the policy's ordered
// set of the positions of the cached keys (a B-tree of positions, about 9-12 bytes each,
// kTrackedPositionBytes). That set is bounded by the order, not by the cache's entries: a chunk
// that repeats (a disk image's zero chunk) puts all its positions in it once it is cached, so
// it is charged at its largest, every position. (The policy's per-key records of cached keys,
// one per key whatever the orders, are part of a cached entry's cost, bounded by the capacity.)
// An estimate for the open-index budget (SessionOptions::max_open_index_bytes).
inline constexpr uint64_t kTrackedPositionBytes = 16;
constexpr uint64_t StreamOrderHeapBytes(uint64_t entries, uint64_t distinct) {
  return entries * (sizeof(ChunkDigest) + sizeof(uint64_t) + kTrackedPositionBytes) +
         distinct * 128;
}

class StreamKnowledge {
 public:
  virtual ~StreamKnowledge() = default;

  // Registers stream `id` (not open yet): it reads `order` from position `cursor` on, in
  // `direction`, at `speed` > 0 positions per unit of time.
  virtual void OpenStream(StreamId id, std::shared_ptr<const StreamOrder> order, uint64_t cursor,
                          StreamDirection direction, double speed) = 0;
  // The stream's next position is `cursor`: positions it passed are behind it.
  virtual void MoveStream(StreamId id, uint64_t cursor) = 0;
  virtual void SetStreamSpeed(StreamId id, double speed) = 0;
  // The stream reads only positions [begin, end) of its order: a reader that declared its range
  // (a StreamRange call). Keys its order names outside that range are not its concern, neither
  // future nor dead for it. For a forward stream; ignored for a backward one. Without a call the
  // stream reads to the end of its order, and everything behind its cursor is behind it.
  virtual void SetStreamRange(StreamId id, uint64_t begin, uint64_t end) = 0;
  // The stream will pass `position` without reading it.
  virtual void SkipPosition(StreamId id, uint64_t position) = 0;
  // The reader is gone: its future no longer counts. Unknown ids are ignored.
  virtual void CloseStream(StreamId id) = 0;
  // `key` will be read `uses` more times by readers that are not registered streams.
  virtual void AddHintedUses(const ChunkDigest& key, uint32_t uses) = 0;
  // The feeder's clock (same unit as the speeds; never decreases): lets the policy compare
  // the time since a reader's last use with a stream's time to arrive.
  virtual void SetTime(double now) = 0;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_STREAM_KNOWLEDGE_H_
