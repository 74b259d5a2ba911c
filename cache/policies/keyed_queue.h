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
//
// Memory: the entries live in a Pool, blocks of 64 nodes linked by 32-bit indices (48 bytes
// per entry without metadata, 56 with up to 8 bytes of it), recycled through a free list and
// returned to the allocator only when the pool is destroyed. The index is a hash set of node
// indices whose hash and equality read the node's digest, so each digest is stored once
// (about 5 to 10 more bytes per entry). A queue owns its pool unless it is given one: queues
// of one policy whose sizes trade off against each other (S3-FIFO's small and main queues,
// ARC's T1/T2/B1/B2) share a pool, so that the memory they keep is bounded by their largest
// total size, not by the sum of each one's largest size. A shared pool must outlive its
// queues; the nodes of a queue destroyed before its shared pool stay allocated.
//
//   KeyedQueue<NoMeta>::Pool pool;
//   KeyedQueue<NoMeta> t1(&pool), t2(&pool);
#ifndef CHUNKCACHE_CACHE_POLICIES_KEYED_QUEUE_H_
#define CHUNKCACHE_CACHE_POLICIES_KEYED_QUEUE_H_

#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
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
    [[no_unique_address]] Meta meta{};
  };

  // Storage for the entries of one or more queues.
  class Pool {
   public:
    Pool() = default;
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Nodes allocated so far (live or free), for memory reports.
    size_t capacity() const { return blocks_.size() * kBlockNodes; }

   private:
    friend class KeyedQueue;
    static constexpr uint32_t kBlockShift = 6;
    static constexpr uint32_t kBlockNodes = uint32_t{1} << kBlockShift;

    struct Node {
      Entry entry;
      uint32_t newer;  // toward the front; kNil at the front (also: next free node)
      uint32_t older;  // toward the back; kNil at the back
    };

    Node& at(uint32_t index) { return blocks_[index >> kBlockShift][index & (kBlockNodes - 1)]; }
    const Node& at(uint32_t index) const {
      return blocks_[index >> kBlockShift][index & (kBlockNodes - 1)];
    }

    uint32_t Allocate() {
      if (free_ != kNil) {
        const uint32_t index = free_;
        free_ = at(index).newer;
        return index;
      }
      assert(fresh_ < kNil && "more than 2^32 - 1 entries in one pool");
      if (fresh_ == capacity()) blocks_.push_back(std::make_unique<Node[]>(kBlockNodes));
      return fresh_++;
    }
    void Free(uint32_t index) {
      at(index).newer = free_;
      free_ = index;
    }

    std::vector<std::unique_ptr<Node[]>> blocks_;
    uint32_t fresh_ = 0;  // nodes below this index have been handed out at least once
    uint32_t free_ = kNil;
  };

  class iterator {
   public:
    iterator() = default;
    Entry& operator*() const { return pool_->at(index_).entry; }
    Entry* operator->() const { return &pool_->at(index_).entry; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.index_ == b.index_; }

   private:
    friend class KeyedQueue;
    iterator(Pool* pool, uint32_t index) : pool_(pool), index_(index) {}
    Pool* pool_ = nullptr;
    uint32_t index_ = kNil;
  };

  KeyedQueue() : KeyedQueue(nullptr) {}
  // Entries are stored in `*shared_pool` (which must outlive the queue), or in a pool of the
  // queue's own when it is null.
  explicit KeyedQueue(Pool* shared_pool)
      : own_pool_(shared_pool == nullptr ? std::make_unique<Pool>() : nullptr),
        pool_(shared_pool == nullptr ? own_pool_.get() : shared_pool),
        index_(0, IndexHash{pool_}, IndexEq{pool_}) {}
  KeyedQueue(KeyedQueue&& other) noexcept
      : own_pool_(std::move(other.own_pool_)),
        pool_(other.pool_),
        index_(std::move(other.index_)),
        newest_(std::exchange(other.newest_, kNil)),
        oldest_(std::exchange(other.oldest_, kNil)),
        bytes_(std::exchange(other.bytes_, 0)) {}
  KeyedQueue(const KeyedQueue&) = delete;
  KeyedQueue& operator=(const KeyedQueue&) = delete;
  KeyedQueue& operator=(KeyedQueue&&) = delete;

  size_t size() const { return index_.size(); }
  bool empty() const { return index_.empty(); }
  uint64_t bytes() const { return bytes_; }
  bool contains(const ChunkDigest& key) const { return index_.contains(key); }

  iterator begin() { return iterator(pool_, newest_); }
  iterator end() { return iterator(pool_, kNil); }

  // The oldest entry (back), or end() when empty.
  iterator Oldest() { return iterator(pool_, oldest_); }
  // The next entry toward the front, or end() after the newest one.
  iterator Newer(iterator it) { return iterator(pool_, pool_->at(it.index_).newer); }

  // nullptr when absent.
  Entry* Find(const ChunkDigest& key) {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &pool_->at(*found).entry;
  }
  iterator IteratorOf(const ChunkDigest& key) {
    auto found = index_.find(key);
    return iterator(pool_, found == index_.end() ? kNil : *found);
  }

  // `key` must be absent (callers check contains() first).
  iterator PushFront(const ChunkDigest& key, uint64_t charge, Meta meta = {}) {
    return InsertBefore(begin(), key, charge, meta);
  }
  iterator PushBack(const ChunkDigest& key, uint64_t charge, Meta meta = {}) {
    return InsertBefore(end(), key, charge, meta);
  }
  // Inserts toward the front of `pos` (at the back when `pos` is end()).
  iterator InsertBefore(iterator pos, const ChunkDigest& key, uint64_t charge, Meta meta) {
    const uint32_t index = pool_->Allocate();
    Node& node = pool_->at(index);
    node.entry = Entry{key, charge, meta};
    node.older = pos.index_;
    node.newer = pos.index_ == kNil ? oldest_ : pool_->at(pos.index_).newer;
    Link(index);
    index_.insert(index);
    bytes_ += charge;
    return iterator(pool_, index);
  }

  void MoveToFront(iterator it) {
    if (it.index_ == newest_) return;
    Unlink(it.index_);
    Node& node = pool_->at(it.index_);
    node.newer = kNil;
    node.older = newest_;
    Link(it.index_);
  }

  // Removes the entry and returns it.
  Entry Erase(iterator it) {
    index_.erase(it.index_);
    Unlink(it.index_);
    Entry entry = std::move(pool_->at(it.index_).entry);
    bytes_ -= entry.charge;
    pool_->Free(it.index_);
    return entry;
  }
  // nullopt when absent.
  std::optional<Entry> Erase(const ChunkDigest& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return std::nullopt;
    return Erase(iterator(pool_, *found));
  }

  // Drops the oldest entries while more than `max_bytes` are held.
  void TrimOldest(uint64_t max_bytes) {
    while (bytes_ > max_bytes && !empty()) Erase(Oldest());
  }

 private:
  static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
  using Node = typename Pool::Node;

  // The index holds node indices; lookups by digest compare the node's digest.
  struct IndexHash {
    using is_transparent = void;
    const Pool* pool = nullptr;
    size_t operator()(const ChunkDigest& key) const { return absl::Hash<ChunkDigest>{}(key); }
    size_t operator()(uint32_t index) const { return (*this)(pool->at(index).entry.key); }
  };
  struct IndexEq {
    using is_transparent = void;
    const Pool* pool = nullptr;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t index, const ChunkDigest& key) const {
      return pool->at(index).entry.key == key;
    }
    bool operator()(const ChunkDigest& key, uint32_t index) const { return (*this)(index, key); }
  };

  // Links node `index`, whose newer/older fields name its neighbours, between them.
  void Link(uint32_t index) {
    const Node& node = pool_->at(index);
    if (node.newer == kNil) {
      newest_ = index;
    } else {
      pool_->at(node.newer).older = index;
    }
    if (node.older == kNil) {
      oldest_ = index;
    } else {
      pool_->at(node.older).newer = index;
    }
  }
  void Unlink(uint32_t index) {
    const Node& node = pool_->at(index);
    if (node.newer == kNil) {
      newest_ = node.older;
    } else {
      pool_->at(node.newer).older = node.older;
    }
    if (node.older == kNil) {
      oldest_ = node.newer;
    } else {
      pool_->at(node.older).newer = node.newer;
    }
  }

  std::unique_ptr<Pool> own_pool_;
  Pool* pool_;
  absl::flat_hash_set<uint32_t, IndexHash, IndexEq> index_;
  uint32_t newest_ = kNil;
  uint32_t oldest_ = kNil;
  uint64_t bytes_ = 0;
};

// A queue size given as a fraction of the capacity, in whole multiples of
// `unit` bytes (the mean charge), at least `min_units`: with equal charges this
// is exactly the count-based floor(capacity_chunks * numerator / denominator).
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
