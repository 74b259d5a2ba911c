// ReaderStream: a sequential reader of an archive, registered with a policy that uses its
// readers' future (StreamKnowledge, cache/stream_knowledge.h; the `index` policy).
//
// A session opens one for each reader it sees stream (ChunkCache::OpenStream), moves it as the
// reader reads, and drops it (or calls Close) when the reader ends, idles or the session
// closes. Moving is one relaxed atomic store: the hit path takes no lock for it. The cache
// hands the latest cursor of every open stream to the policy in batches, under its own lock,
// when it drains buffered hits into the policy (always before it picks a victim), and
// estimates each stream's speed there from the cursor's progress over time.
//
//   ReaderStream stream = cache.OpenStream(order, /*cursor=*/0, StreamDirection::kForward);
//   stream.MoveTo(next_entry);  // no-op on an empty handle (a policy without knowledge)
//
// Move-only; thread-compatible (one reader moves it; Close and the destructor end it).
#ifndef CHUNKCACHE_CACHE_READER_STREAM_H_
#define CHUNKCACHE_CACHE_READER_STREAM_H_

#include <cstdint>
#include <memory>

namespace chunkcache {

namespace internal {
struct LiveStream;
}  // namespace internal

class ReaderStream {
 public:
  ReaderStream() = default;  // empty: not registered, every call is a no-op
  explicit ReaderStream(std::shared_ptr<internal::LiveStream> live);
  ~ReaderStream() { Close(); }
  ReaderStream(ReaderStream&&) noexcept = default;
  ReaderStream& operator=(ReaderStream&& other) noexcept;
  ReaderStream(const ReaderStream&) = delete;
  ReaderStream& operator=(const ReaderStream&) = delete;

  // Whether this handle names an open stream.
  bool open() const { return live_ != nullptr; }
  // The reader's next position in its order is `cursor`.
  void MoveTo(uint64_t cursor);
  // The reader is gone: its future stops counting at the cache's next drain.
  void Close();

 private:
  std::shared_ptr<internal::LiveStream> live_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_READER_STREAM_H_
