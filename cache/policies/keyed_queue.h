// KeyedQueue: an ordered list of chunk digests with byte charges and per-entry metadata,
// plus a hash index, so that find, erase, move-to-front and push are O(1). Every policy
// builds its queues (LRU lists, FIFOs, ghost lists) from it.
//
// The front is the newest (most recently used / inserted) end, the back the oldest end:
// victims are searched from the back. Iterators stay valid until their entry is erased.
//
//   KeyedQueue<Visited> queue;
//   queue.PushFront(key, charge, Visited{});
//   for (auto it = queue.Oldest(); it != queue.end(); it = queue.Newer(it)) ...
#ifndef CHUNKCACHE_CACHE_POLICIES_KEYED_QUEUE_H_
#define CHUNKCACHE_CACHE_POLICIES_KEYED_QUEUE_H_

#include <cstdint>
#include <list>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "format/digest.h"

namespace chunkcache {

// Metadata for queues that need none.
struct NoMeta {};

template <typename Meta>
class KeyedQueue {
 public:
  struct Entry {
    ChunkDigest key;
    uint64_t charge = 0;
    Meta meta{};
  };
  using List = std::list<Entry>;
  using iterator = typename List::iterator;

  size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  uint64_t bytes() const { return bytes_; }
  bool contains(const ChunkDigest& key) const { return index_.contains(key); }

  iterator begin() { return list_.begin(); }
  iterator end() { return list_.end(); }

  // The oldest entry (back), or end() when empty.
  iterator Oldest() { return list_.empty() ? list_.end() : std::prev(list_.end()); }
  // The next entry toward the front, or end() after the newest one.
  iterator Newer(iterator it) { return it == list_.begin() ? list_.end() : std::prev(it); }

  // nullptr when absent.
  Entry* Find(const ChunkDigest& key) {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &*found->second;
  }
  iterator IteratorOf(const ChunkDigest& key) {
    auto found = index_.find(key);
    return found == index_.end() ? list_.end() : found->second;
  }

  // `key` must be absent (callers check contains() first).
  iterator PushFront(const ChunkDigest& key, uint64_t charge, Meta meta = {}) {
    return InsertBefore(list_.begin(), key, charge, meta);
  }
  iterator PushBack(const ChunkDigest& key, uint64_t charge, Meta meta = {}) {
    return InsertBefore(list_.end(), key, charge, meta);
  }
  iterator InsertBefore(iterator pos, const ChunkDigest& key, uint64_t charge, Meta meta) {
    iterator it = list_.insert(pos, Entry{key, charge, meta});
    index_.emplace(key, it);
    bytes_ += charge;
    return it;
  }

  void MoveToFront(iterator it) { list_.splice(list_.begin(), list_, it); }

  // Removes the entry and returns it.
  Entry Erase(iterator it) {
    Entry entry = std::move(*it);
    index_.erase(entry.key);
    bytes_ -= entry.charge;
    list_.erase(it);
    return entry;
  }
  // nullopt when absent.
  std::optional<Entry> Erase(const ChunkDigest& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return std::nullopt;
    return Erase(found->second);
  }

  // Drops the oldest entries while more than `max_bytes` are held.
  void TrimOldest(uint64_t max_bytes) {
    while (bytes_ > max_bytes && !list_.empty()) Erase(Oldest());
  }

 private:
  List list_;
  absl::flat_hash_map<ChunkDigest, iterator> index_;
  uint64_t bytes_ = 0;
};

// A queue size given as a fraction of the capacity, in whole multiples of `unit` bytes (the
// mean charge), at least `min_units`: with equal charges this is exactly the count-based
// floor(capacity_chunks * numerator / denominator).
inline uint64_t FractionOfCapacity(uint64_t capacity_bytes, uint64_t numerator,
                                   uint64_t denominator, uint64_t unit, uint64_t min_units) {
  if (unit == 0) unit = 1;
  const unsigned __int128 scaled = static_cast<unsigned __int128>(capacity_bytes) * numerator;
  uint64_t units =
      static_cast<uint64_t>(scaled / (static_cast<unsigned __int128>(denominator) * unit));
  if (units < min_units) units = min_units;
  return units * unit;
}

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_POLICIES_KEYED_QUEUE_H_
