// KeyedQueue, the queue every eviction policy is built of: order, index, iterator stability
// and node reuse, checked directly and against a std::list model.
#include <cstdint>
#include <list>
#include <random>
#include <utility>
#include <vector>

#include "cache/policies/keyed_queue.h"
#include "cache/trace/chunk_key.h"
#include "gtest/gtest.h"

namespace chunkcache {
namespace {

ChunkDigest Key(uint64_t id) { return ChunkKeyForId(id); }

struct Count {
  uint8_t count = 0;
};

// Keys from the newest to the oldest, walking from the back with Newer().
template <typename Meta>
std::vector<ChunkDigest> NewestFirst(KeyedQueue<Meta>& queue) {
  std::vector<ChunkDigest> keys;
  for (auto it = queue.Oldest(); it != queue.end(); it = queue.Newer(it)) {
    keys.insert(keys.begin(), it->key);
  }
  return keys;
}

TEST(KeyedQueueTest, PushMoveAndEraseKeepTheOrderAndTheBytes) {
  KeyedQueue<NoMeta> queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.Oldest(), queue.end());
  queue.PushFront(Key(1), 10);
  queue.PushFront(Key(2), 20);
  queue.PushBack(Key(0), 5);
  EXPECT_EQ(NewestFirst(queue), (std::vector<ChunkDigest>{Key(2), Key(1), Key(0)}));
  EXPECT_EQ(queue.begin()->key, Key(2));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.bytes(), 35u);

  queue.InsertBefore(queue.IteratorOf(Key(1)), Key(3), 1, NoMeta{});  // between 2 and 1
  EXPECT_EQ(NewestFirst(queue), (std::vector<ChunkDigest>{Key(2), Key(3), Key(1), Key(0)}));
  queue.MoveToFront(queue.IteratorOf(Key(0)));
  queue.MoveToFront(queue.IteratorOf(Key(0)));  // already at the front
  EXPECT_EQ(NewestFirst(queue), (std::vector<ChunkDigest>{Key(0), Key(2), Key(3), Key(1)}));

  KeyedQueue<NoMeta>::Entry erased = queue.Erase(queue.IteratorOf(Key(3)));
  EXPECT_EQ(erased.key, Key(3));
  EXPECT_EQ(erased.charge, 1u);
  std::optional<KeyedQueue<NoMeta>::Entry> by_key = queue.Erase(Key(2));
  ASSERT_TRUE(by_key.has_value());
  EXPECT_EQ(by_key->charge, 20u);
  EXPECT_FALSE(queue.Erase(Key(2)).has_value());
  EXPECT_FALSE(queue.contains(Key(2)));
  EXPECT_EQ(queue.IteratorOf(Key(2)), queue.end());
  EXPECT_EQ(queue.Find(Key(2)), nullptr);
  EXPECT_EQ(NewestFirst(queue), (std::vector<ChunkDigest>{Key(0), Key(1)}));
  EXPECT_EQ(queue.bytes(), 15u);

  queue.TrimOldest(5);
  EXPECT_EQ(NewestFirst(queue), (std::vector<ChunkDigest>{Key(0)}));
  queue.TrimOldest(0);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_EQ(queue.Oldest(), queue.end());
}

TEST(KeyedQueueTest, MetadataIsKeptPerEntry) {
  KeyedQueue<Count> queue;
  queue.PushFront(Key(1), 1, Count{2});
  queue.PushFront(Key(2), 1);
  ++queue.Find(Key(2))->meta.count;
  ++queue.IteratorOf(Key(2))->meta.count;
  EXPECT_EQ(queue.Find(Key(1))->meta.count, 2);
  EXPECT_EQ(queue.Find(Key(2))->meta.count, 2);
  EXPECT_EQ(queue.Erase(Key(1))->meta.count, 2);
}

TEST(KeyedQueueTest, IteratorsStayValidWhileOtherEntriesComeAndGo) {
  KeyedQueue<NoMeta> queue;
  auto kept = queue.PushFront(Key(1000000), 7);
  std::vector<KeyedQueue<NoMeta>::iterator> others;
  for (uint64_t id = 0; id < 1000; ++id) others.push_back(queue.PushFront(Key(id), 1));
  for (uint64_t id = 0; id < 1000; id += 2) queue.Erase(others[id]);
  for (uint64_t id = 1000; id < 1500; ++id) queue.PushBack(Key(id), 1);
  for (uint64_t id = 1; id < 1000; id += 2) {
    EXPECT_EQ(others[id]->key, Key(id));
    queue.MoveToFront(others[id]);
  }
  EXPECT_EQ(kept->key, Key(1000000));
  EXPECT_EQ(kept->charge, 7u);
  EXPECT_EQ(queue.IteratorOf(Key(1000000)), kept);
  EXPECT_EQ(queue.size(), 1001u);
}

TEST(KeyedQueueTest, ErasedNodesAreReused) {
  KeyedQueue<NoMeta>::Pool pool;
  KeyedQueue<NoMeta> queue(&pool);
  for (uint64_t id = 0; id < 100000; ++id) {
    queue.PushFront(Key(id), 1);
    if (queue.size() > 10) queue.Erase(queue.Oldest());
  }
  EXPECT_EQ(queue.size(), 10u);
  EXPECT_LE(pool.capacity(), 64u);
}

TEST(KeyedQueueTest, QueuesSharingAPoolAreIndependentAndBoundedByTheirTotalSize) {
  KeyedQueue<NoMeta>::Pool pool;
  KeyedQueue<NoMeta> small(&pool), main(&pool);
  // Everything enters `small`, then all but 100 keys move to `main`, as S3-FIFO's queues do.
  for (uint64_t id = 0; id < 1000; ++id) small.PushFront(Key(id), 1);
  while (small.size() > 100) {
    KeyedQueue<NoMeta>::Entry entry = small.Erase(small.Oldest());
    main.PushFront(entry.key, entry.charge);
  }
  for (uint64_t id = 1000; id < 5000; ++id) {
    small.PushFront(Key(id), 1);
    KeyedQueue<NoMeta>::Entry entry = small.Erase(small.Oldest());
    main.PushFront(entry.key, entry.charge);
    main.Erase(main.Oldest());
  }
  EXPECT_EQ(small.size(), 100u);
  EXPECT_EQ(main.size(), 900u);
  EXPECT_LE(pool.capacity(), 1000u + 64u);
  EXPECT_TRUE(small.contains(Key(4999)));
  EXPECT_FALSE(main.contains(Key(4999)));
  EXPECT_TRUE(main.contains(Key(4899)));
  EXPECT_FALSE(small.contains(Key(4899)));
  EXPECT_EQ(NewestFirst(small).back(), Key(4900));
  EXPECT_EQ(NewestFirst(main).front(), Key(4899));
  EXPECT_EQ(NewestFirst(main).back(), Key(4000));
}

TEST(KeyedQueueTest, AMovedQueueKeepsItsEntries) {
  KeyedQueue<NoMeta>::Pool pool;
  std::vector<KeyedQueue<NoMeta>> queues;
  queues.emplace_back();
  queues.emplace_back(&pool);
  for (KeyedQueue<NoMeta>& queue : queues) {
    for (uint64_t id = 0; id < 100; ++id) queue.PushFront(Key(id), 1);
  }
  std::vector<KeyedQueue<NoMeta>> moved;
  for (KeyedQueue<NoMeta>& queue : queues) moved.push_back(std::move(queue));
  for (KeyedQueue<NoMeta>& queue : moved) {
    EXPECT_EQ(queue.size(), 100u);
    EXPECT_EQ(queue.bytes(), 100u);
    EXPECT_TRUE(queue.contains(Key(42)));
    queue.MoveToFront(queue.IteratorOf(Key(0)));
    EXPECT_EQ(queue.begin()->key, Key(0));
    EXPECT_EQ(queue.Oldest()->key, Key(1));
    queue.PushFront(Key(100), 1);
    EXPECT_EQ(queue.size(), 101u);
  }
}

// Random operations on a queue and a std::list model give the same order, index and bytes.
TEST(KeyedQueueTest, RandomOperationsMatchAListModel) {
  for (uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 random(seed);
    KeyedQueue<Count> queue;
    std::list<std::pair<ChunkDigest, uint64_t>> model;  // front = newest
    auto find = [&](const ChunkDigest& key) {
      for (auto it = model.begin(); it != model.end(); ++it) {
        if (it->first == key) return it;
      }
      return model.end();
    };
    uint64_t model_bytes = 0;
    for (int step = 0; step < 20000; ++step) {
      const ChunkDigest key = Key(random() % 300);
      const uint64_t charge = 1 + random() % 1000;
      auto in_model = find(key);
      switch (random() % 5) {
        case 0:
          if (in_model == model.end()) {
            queue.PushFront(key, charge);
            model.emplace_front(key, charge);
            model_bytes += charge;
          }
          break;
        case 1:
          if (in_model == model.end()) {
            queue.PushBack(key, charge);
            model.emplace_back(key, charge);
            model_bytes += charge;
          }
          break;
        case 2:
          if (in_model != model.end()) {
            queue.MoveToFront(queue.IteratorOf(key));
            model.splice(model.begin(), model, in_model);
          }
          break;
        case 3: {
          std::optional<KeyedQueue<Count>::Entry> erased = queue.Erase(key);
          ASSERT_EQ(erased.has_value(), in_model != model.end()) << "step " << step;
          if (erased) {
            ASSERT_EQ(erased->charge, in_model->second);
            model_bytes -= in_model->second;
            model.erase(in_model);
          }
          break;
        }
        default:
          if (!model.empty()) {
            ASSERT_EQ(queue.Oldest()->key, model.back().first) << "step " << step;
            queue.Erase(queue.Oldest());
            model_bytes -= model.back().second;
            model.pop_back();
          }
      }
      ASSERT_EQ(queue.size(), model.size()) << "step " << step;
      ASSERT_EQ(queue.bytes(), model_bytes) << "step " << step;
      ASSERT_EQ(queue.contains(key), find(key) != model.end()) << "step " << step;
      if (step % 1000 == 0) {
        std::vector<ChunkDigest> expected;
        for (const auto& [k, c] : model) expected.push_back(k);
        ASSERT_EQ(NewestFirst(queue), expected) << "step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace chunkcache
