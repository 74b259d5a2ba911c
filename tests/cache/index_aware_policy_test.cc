// The index-aware policy: its eviction classes (dead, unknown future, furthest known use),
// stream bookkeeping, and its targets on the simulated workloads (bench/RESULTS.md, "Index-aware
// caching"). The conformance suite (policy_conformance_test) runs it as well.
#include "cache/policies/index_aware_policy.h"

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/trace/chunk_accesses.h"
#include "cache/trace/chunk_key.h"
#include "cache/trace/concurrent_restores.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/qemu_live_restore.h"
#include "cache/trace/replay_workload.h"
#include "cache/trace/trace_file.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kChunk = 4 * kMiB;

ChunkDigest Key(uint64_t id) { return ChunkKeyForId(id); }
bool AnyKey(const ChunkDigest&) { return true; }

std::unique_ptr<EvictionPolicy> MakeIndexPolicy(uint64_t capacity_chunks) {
  absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy =
      MakeEvictionPolicy("index", capacity_chunks * kChunk);
  EXPECT_TRUE(policy.ok()) << policy.status();
  EXPECT_NE((*policy)->stream_knowledge(), nullptr);
  return std::move(*policy);
}

std::vector<ChunkDigest> Drain(EvictionPolicy& policy) {
  std::vector<ChunkDigest> victims;
  while (std::optional<ChunkDigest> victim = policy.PickVictim(AnyKey)) victims.push_back(*victim);
  return victims;
}

TEST(IndexAwarePolicyTest, OtherPoliciesTakeNoKnowledge) {
  for (std::string_view name : EvictionPolicyNames()) {
    absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy = MakeEvictionPolicy(name, kChunk);
    ASSERT_TRUE(policy.ok());
    EXPECT_EQ((*policy)->stream_knowledge() != nullptr, name == "index") << name;
  }
}

// No streams, no hints: exactly the default policy's victims.
TEST(IndexAwarePolicyTest, WithoutKnowledgeItEvictsAsTheDefaultPolicy) {
  constexpr uint64_t kCapacity = 24;
  std::unique_ptr<EvictionPolicy> index = MakeIndexPolicy(kCapacity);
  std::unique_ptr<EvictionPolicy> fallback =
      *MakeEvictionPolicy(DefaultEvictionPolicyName(), kCapacity * kChunk);
  std::mt19937_64 random(9);
  absl::flat_hash_set<ChunkDigest> resident;
  for (int step = 0; step < 20000; ++step) {
    const ChunkDigest key = Key((random() % 120) * (random() % 120) / 120);
    if (resident.contains(key)) {
      index->OnAccess(key);
      fallback->OnAccess(key);
      continue;
    }
    index->OnMiss(key);
    fallback->OnMiss(key);
    while (resident.size() >= kCapacity) {
      std::optional<ChunkDigest> victim = fallback->PickVictim(AnyKey);
      ASSERT_TRUE(victim.has_value());
      ASSERT_EQ(index->PickVictim(AnyKey), victim) << "step " << step;
      resident.erase(*victim);
    }
    const InsertKind kind = step % 9 == 0 ? InsertKind::kPrefetch : InsertKind::kDemand;
    index->OnInsert(key, kChunk, kind);
    fallback->OnInsert(key, kChunk, kind);
    resident.insert(key);
  }
}

// Keys 0-9 are a stream's positions 0-9 (cursor 5): 0-4 are dead, 5-9 have known next uses
// 0-4 (speed 1). Key 100 is a key no stream names, hot until `idle` before the victims are
// chosen: its guessed next use is `idle` x the reader-reuse factor away.
std::vector<ChunkDigest> DeadKnownAndUnknownVictims(double idle) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  knowledge.OpenStream(7, SequentialOrder(0, 10), 0, StreamDirection::kForward, 1);
  knowledge.SetTime(0);
  for (uint64_t id = 0; id < 10; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  policy->OnInsert(Key(100), kChunk, InsertKind::kDemand);
  for (int i = 0; i < 5; ++i) policy->OnAccess(Key(100));
  knowledge.MoveStream(7, 5);
  knowledge.SetTime(idle);
  std::vector<ChunkDigest> victims = Drain(*policy);
  EXPECT_EQ(policy->tracked(), 0u);
  return victims;
}

// Just used, key 100 is expected back (at 0) sooner than every known use but key 5's (also 0):
// the dead go, then 9, 8, 7, 6 (furthest first), then 100 (a tie goes to the unknown key), 5.
TEST(IndexAwarePolicyTest, DeadFirstThenFurthestKnownUseThenARecentlyUsedUnknownKey) {
  const std::vector<ChunkDigest> victims = DeadKnownAndUnknownVictims(0);
  ASSERT_EQ(victims.size(), 11u);
  absl::flat_hash_set<ChunkDigest> first_five(victims.begin(), victims.begin() + 5);
  for (uint64_t id = 0; id < 5; ++id) EXPECT_TRUE(first_five.contains(Key(id))) << id;
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(victims[5 + i], Key(9 - i)) << i;
  EXPECT_EQ(victims[9], Key(100));
  EXPECT_EQ(victims[10], Key(5));
}

// Unused for long, key 100 is guessed 10 away, further than every known use (at most 4): the
// dead go, then 100, then 9, 8, ... 5.
TEST(IndexAwarePolicyTest, AnUnknownKeyUnusedForLongGoesBeforeKnownUses) {
  const std::vector<ChunkDigest> victims =
      DeadKnownAndUnknownVictims(10 / IndexAwarePolicy::kDefaultReaderReuseFactor);
  ASSERT_EQ(victims.size(), 11u);
  absl::flat_hash_set<ChunkDigest> first_five(victims.begin(), victims.begin() + 5);
  for (uint64_t id = 0; id < 5; ++id) EXPECT_TRUE(first_five.contains(Key(id))) << id;
  EXPECT_EQ(victims[5], Key(100));
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(victims[6 + i], Key(9 - i)) << i;
}

TEST(IndexAwarePolicyTest, PinnedKeysArePassedOverInEveryClass) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  policy->stream_knowledge()->OpenStream(1, SequentialOrder(0, 6), 3, StreamDirection::kForward, 1);
  for (uint64_t id = 0; id < 6; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  auto not_2_or_5 = [](const ChunkDigest& key) { return key != Key(2) && key != Key(5); };
  absl::flat_hash_set<ChunkDigest> victims;
  while (std::optional<ChunkDigest> victim = policy->PickVictim(not_2_or_5)) {
    victims.insert(*victim);
  }
  EXPECT_EQ(victims, (absl::flat_hash_set<ChunkDigest>{Key(0), Key(1), Key(3), Key(4)}));
  EXPECT_EQ(policy->tracked(), 2u);
}

TEST(IndexAwarePolicyTest, SkippedPositionsAreDeadAndClosedStreamsForgotten) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  knowledge.OpenStream(1, SequentialOrder(0, 4), 0, StreamDirection::kForward, 1);
  for (uint64_t id = 0; id < 4; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  knowledge.SkipPosition(1, 2);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(2));  // dead: the stream will pass it
  knowledge.CloseStream(1);
  // Nothing names 0, 1, 3 any more: the default policy's order (prefetch FIFO, oldest first).
  EXPECT_EQ(Drain(*policy), (std::vector<ChunkDigest>{Key(0), Key(1), Key(3)}));
}

TEST(IndexAwarePolicyTest, TheEarliestArrivalOfAnyStreamCountsBackwardStreamsToo) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  const std::shared_ptr<const StreamOrder> order = SequentialOrder(0, 10);
  knowledge.OpenStream(1, order, 0, StreamDirection::kForward, 1);   // key k in k
  knowledge.OpenStream(2, order, 9, StreamDirection::kBackward, 4);  // key k in (9 - k) / 4
  for (uint64_t id = 0; id < 10; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  // Next uses: 0, 1, 2, 1.5, 1.25, 1, 0.75, 0.5, 0.25, 0: key 2 is furthest, then 3.
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(2));
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(3));
  // Now (9 - k) * 2: the next uses of 0, 1, 4-9 are 0, 1, 4, 5, 6, 4, 2, 0: key 6 goes.
  knowledge.SetStreamSpeed(2, 0.5);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(6));
  knowledge.CloseStream(2);
  knowledge.CloseStream(2);  // unknown ids are ignored
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(9));
}

TEST(IndexAwarePolicyTest, HintedUsesCountDownToDead) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  policy->OnInsert(Key(1), kChunk, InsertKind::kDemand);
  policy->OnInsert(Key(2), kChunk, InsertKind::kDemand);
  knowledge.AddHintedUses(Key(2), 2);
  policy->OnAccess(Key(2));
  // One hinted use left: an unknown future like key 1, so the default policy decides (LRU-like
  // experts evict key 1, used least recently).
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(1));
  policy->OnInsert(Key(1), kChunk, InsertKind::kDemand);
  policy->OnAccess(Key(2));  // the last hinted use: key 2 is dead
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(2));
}

IndexAwarePolicy MakeIndexOverLru() {
  absl::StatusOr<std::unique_ptr<EvictionPolicy>> lru = MakeEvictionPolicy("lru", 4096 * kChunk);
  EXPECT_TRUE(lru.ok()) << lru.status();
  return IndexAwarePolicy(std::move(*lru));
}

// A stream that declared its range (a StreamRange call) names only the positions in it: keys
// past its end are not its future and keys before its start are not behind it.
TEST(IndexAwarePolicyTest, ADeclaredRangeNamesOnlyItsPositions) {
  IndexAwarePolicy policy = MakeIndexOverLru();
  StreamKnowledge& knowledge = *policy.stream_knowledge();
  knowledge.OpenStream(1, SequentialOrder(0, 20), 5, StreamDirection::kForward, 1);
  knowledge.SetStreamRange(1, 5, 10);
  for (uint64_t id = 0; id < 20; ++id) policy.OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  EXPECT_EQ(policy.NextKnownUse(Key(7)), 2.0);
  EXPECT_EQ(policy.NextKnownUse(Key(12)), std::nullopt);
  EXPECT_FALSE(policy.IsDead(Key(12)));
  EXPECT_FALSE(policy.IsDead(Key(2)));
  knowledge.MoveStream(1, 8);
  EXPECT_TRUE(policy.IsDead(Key(6)));
  EXPECT_EQ(policy.NextKnownUse(Key(9)), 1.0);
}

// Class 3's segments end where a declared range ends: a leading stream reading [10, 20) and a
// trailing one that declared [0, 4). Keys 4-9 lie behind the leader and outside the trailer's
// range (dead), 0-3 are 0-3 away, 10-19 are 0-9 away.
TEST(IndexAwarePolicyTest, FurthestKnownUseHonoursDeclaredEnds) {
  IndexAwarePolicy policy = MakeIndexOverLru();
  StreamKnowledge& knowledge = *policy.stream_knowledge();
  const std::shared_ptr<const StreamOrder> order = SequentialOrder(0, 20);
  knowledge.OpenStream(1, order, 0, StreamDirection::kForward, 1);
  knowledge.SetStreamRange(1, 0, 4);
  knowledge.OpenStream(2, order, 10, StreamDirection::kForward, 1);
  for (uint64_t id = 0; id < 20; ++id) policy.OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  const std::vector<ChunkDigest> victims = Drain(policy);
  ASSERT_EQ(victims.size(), 20u);
  absl::flat_hash_set<ChunkDigest> first_six(victims.begin(), victims.begin() + 6);
  for (uint64_t id = 4; id < 10; ++id) EXPECT_TRUE(first_six.contains(Key(id))) << id;
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(victims[6 + i], Key(19 - i)) << i;
}

// The walk for a dead key looks at the first kClassWalk (1024) keys of the wrapped policy's
// order; a dead key behind 1500 live ones is still found, from the keys streams passed and the
// keys that entered the cache dead.
TEST(IndexAwarePolicyTest, ADeadKeyBehindMoreThanAThousandLiveKeysIsFound) {
  IndexAwarePolicy policy = MakeIndexOverLru();
  StreamKnowledge& knowledge = *policy.stream_knowledge();
  knowledge.OpenStream(1, SequentialOrder(0, 3000), 0, StreamDirection::kForward, 1);
  // The wrapped policy's order, first victims first: 1000..2499 (prefetched for the stream,
  // all ahead of it), then 5 (a reader's).
  for (uint64_t id = 1000; id < 2500; ++id) {
    policy.OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  }
  policy.OnInsert(Key(5), kChunk, InsertKind::kDemand);
  knowledge.MoveStream(1, 10);  // the stream passes 5
  ASSERT_TRUE(policy.IsDead(Key(5)));
  EXPECT_EQ(policy.PickVictim(AnyKey), Key(5));
  policy.OnInsert(Key(7), kChunk, InsertKind::kDemand);  // a reader's read behind the stream
  EXPECT_EQ(policy.PickVictim(AnyKey), Key(7));
  // No dead key left: the furthest known use goes.
  EXPECT_EQ(policy.PickVictim(AnyKey), Key(2499));
}

// A backward stream makes class 3 scan the named keys instead of walking segments. With more
// of them than one scan looks at (kClassWalk), each victim looks at the next part of them, so a
// reader going downwards costs every miss a bounded scan and the furthest key still goes within
// a few victims.
TEST(IndexAwarePolicyTest, ABackwardStreamsScanLooksAtEveryKeyInTurnWithinItsBound) {
  IndexAwarePolicy policy = MakeIndexOverLru();
  StreamKnowledge& knowledge = *policy.stream_knowledge();
  constexpr uint64_t kKeys = 3000;
  // More than twice the keys one scan looks at (IndexAwarePolicy::kClassWalk, 1024).
  knowledge.OpenStream(1, SequentialOrder(0, kKeys), kKeys - 1, StreamDirection::kBackward, 1);
  for (uint64_t id = 0; id < kKeys; ++id) policy.OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  // Key k is used in kKeys - 1 - k: key 0 is the furthest. Three scans pass over every key.
  std::vector<ChunkDigest> first_victims;
  for (int i = 0; i < 3; ++i) first_victims.push_back(*policy.PickVictim(AnyKey));
  EXPECT_NE(std::find(first_victims.begin(), first_victims.end(), Key(0)), first_victims.end());
  // Every key is still found, and each once.
  absl::flat_hash_set<ChunkDigest> victims(first_victims.begin(), first_victims.end());
  for (ChunkDigest victim : Drain(policy)) EXPECT_TRUE(victims.insert(victim).second);
  EXPECT_EQ(victims.size(), kKeys);
}

// StreamOrderHeapBytes, what a session charges to the open-index budget for its order with
// the index policy, covers what the order and the policy's position index of it really take
// (glibc's heap, measured around building them), and is not a gross overestimate.
TEST(IndexAwarePolicyTest, StreamOrderHeapBytesCoversTheOrderAndItsPositionIndex) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer allocators do not report through mallinfo2";
#endif
  auto heap = [] {
    const struct mallinfo2 info = mallinfo2();
    return static_cast<int64_t>(info.uordblks + info.hblkhd);
  };
  constexpr uint64_t kEntries = 200000;
  auto make_order = [](uint64_t distinct) {
    auto order = std::make_shared<StreamOrder>();
    order->reserve(kEntries);
    for (uint64_t i = 0; i < kEntries; ++i) order->push_back(Key(i % distinct));
    return order;
  };
  // Every key distinct (a full disk image), and each key at 4 positions.
  for (uint64_t distinct : {kEntries, kEntries / 4}) {
    IndexAwarePolicy policy = MakeIndexOverLru();
    const int64_t before = heap();
    policy.stream_knowledge()->OpenStream(1, make_order(distinct), 0, StreamDirection::kForward, 1);
    const int64_t used = heap() - before;
    const auto charged = static_cast<int64_t>(StreamOrderHeapBytes(kEntries, distinct));
    EXPECT_LE(used, charged) << distinct << " distinct";
    EXPECT_GE(used, charged / 2) << distinct << " distinct";
  }
  // The same with every key cached, so that the ordered set of tracked positions holds every
  // position of the order, its largest. The order is a second snapshot's of the same chunks:
  // the policy's per-key records of the cached keys exist already (the first snapshot's stream
  // made them), and what the open adds is the order's own cost.
  for (uint64_t distinct : {kEntries, kEntries / 4}) {
    IndexAwarePolicy policy = MakeIndexOverLru();
    for (uint64_t i = 0; i < distinct; ++i) policy.OnInsert(Key(i), 1, InsertKind::kDemand);
    policy.stream_knowledge()->OpenStream(1, make_order(distinct), 0, StreamDirection::kForward, 1);
    const int64_t before = heap();
    policy.stream_knowledge()->OpenStream(2, make_order(distinct), 0, StreamDirection::kForward, 1);
    const int64_t used = heap() - before;
    const auto charged = static_cast<int64_t>(StreamOrderHeapBytes(kEntries, distinct));
    EXPECT_LE(used, charged) << distinct << " distinct, all cached";
    EXPECT_GE(used, charged / 2) << distinct << " distinct, all cached";
    std::printf("order of %llu entries, %llu distinct, all cached: %lld bytes used, %lld charged\n",
                static_cast<unsigned long long>(kEntries),
                static_cast<unsigned long long>(distinct), static_cast<long long>(used),
                static_cast<long long>(charged));
  }
}

// A key a reader (not a stream) used recently is expected back soon, however far the stream.
TEST(IndexAwarePolicyTest, ARecentReaderUseKeepsAKeyTheStreamReachesLate) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  knowledge.OpenStream(1, SequentialOrder(0, 100), 0, StreamDirection::kForward, 1);
  knowledge.SetTime(0);
  policy->OnInsert(Key(30), kChunk, InsertKind::kDemand);  // a guest read at time 0
  policy->OnInsert(Key(90), kChunk, InsertKind::kDemand);
  knowledge.SetTime(50);
  policy->OnAccess(Key(90));  // used again at 50: expected back in ~0, not at 90
  knowledge.SetTime(52);
  // 30: stream at 30, reader at ~52; 90: stream at 90, reader at ~2.
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(30));
}

// Back-to-back restores: one restore's stream closes before the next one's opens, and for a
// moment no stream is open. A guest's keys used just before still count as recently used when
// the next restore's readahead arrives, so its chunks seconds away go before them.
TEST(IndexAwarePolicyTest, AGuestsRecentUsesOutlastAMomentWithoutStreams) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  const std::shared_ptr<const StreamOrder> restore = SequentialOrder(0, 100);
  knowledge.SetTime(0);
  knowledge.OpenStream(1, restore, 0, StreamDirection::kForward, 10);
  for (uint64_t id = 1000; id < 1004; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kDemand);
  knowledge.SetTime(1);
  for (uint64_t id = 1000; id < 1004; ++id) policy->OnAccess(Key(id));
  knowledge.MoveStream(1, 100);
  knowledge.CloseStream(1);  // the first restore ends
  knowledge.SetTime(1.01);
  knowledge.OpenStream(2, restore, 0, StreamDirection::kForward, 10);  // the next one starts
  for (uint64_t id = 40; id < 44; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  knowledge.SetTime(1.02);
  // The guest keys were used 0.02 ago; the restore reads 40..43 in about 4 s.
  for (uint64_t id = 43; id >= 40; --id) EXPECT_EQ(policy->PickVictim(AnyKey), Key(id));
  EXPECT_EQ(policy->tracked(), 4u);
  for (uint64_t id = 1000; id < 1004; ++id) EXPECT_TRUE(policy->Tracks(Key(id))) << id;
}

// A restore starting after a long pause with no stream open: the guest's keys cached before it
// were used then without being recorded, and count as used when the stream opened, so the
// restore's chunks seconds away go before them; a key the restore's readahead brought in
// and no reader used goes first.
TEST(IndexAwarePolicyTest, KeysCachedBeforeTheStreamsOpenedCountAsUsedThen) {
  std::unique_ptr<EvictionPolicy> policy = MakeIndexPolicy(16);
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  for (uint64_t id = 1000; id < 1004; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kDemand);
  knowledge.SetTime(100);  // an idle guest's reads are not recorded without streams
  for (uint64_t id = 1000; id < 1004; ++id) policy->OnAccess(Key(id));
  knowledge.OpenStream(1, SequentialOrder(0, 100), 0, StreamDirection::kForward, 10);
  policy->OnInsert(Key(2000), kChunk, InsertKind::kPrefetch);  // another reader's readahead
  for (uint64_t id = 40; id < 44; ++id) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  knowledge.SetTime(100.1);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(2000));
  for (uint64_t id = 43; id >= 40; --id) EXPECT_EQ(policy->PickVictim(AnyKey), Key(id));
  for (uint64_t id = 1000; id < 1004; ++id) EXPECT_TRUE(policy->Tracks(Key(id))) << id;
}

// Many forward streams on one order, every tracked key ahead of some stream, some pinned:
// each victim is an evictable key with the furthest next use of all (what the scan of every
// tracked key would choose), found from the streams' segments.
TEST(IndexAwarePolicyTest, FurthestKnownUseAmongManyStreamsMatchesAFullComparison) {
  constexpr uint64_t kOrder = 2000;
  auto policy = std::make_unique<IndexAwarePolicy>(
      *MakeEvictionPolicy(DefaultEvictionPolicyName(), 1000 * kChunk));
  StreamKnowledge& knowledge = *policy->stream_knowledge();
  std::shared_ptr<const StreamOrder> order = SequentialOrder(0, kOrder);
  for (StreamId id = 1; id <= 12; ++id) {
    knowledge.OpenStream(id, order, 100 * id + 7 * (id % 3), StreamDirection::kForward, 1);
  }
  std::mt19937_64 random(5);
  absl::flat_hash_set<uint64_t> inserted;
  while (inserted.size() < 600) {
    const uint64_t id = 107 + random() % (kOrder - 107);  // ahead of the first stream
    if (inserted.insert(id).second) policy->OnInsert(Key(id), kChunk, InsertKind::kPrefetch);
  }
  absl::flat_hash_set<ChunkDigest> pinned;
  for (uint64_t id : inserted) {
    if (random() % 4 == 0) pinned.insert(Key(id));
  }
  auto evictable = [&](const ChunkDigest& key) { return !pinned.contains(key); };
  for (int round = 0; round < 100; ++round) {
    double furthest = -1;
    for (uint64_t id : inserted) {
      if (!evictable(Key(id))) continue;
      const std::optional<double> next = policy->NextKnownUse(Key(id));
      ASSERT_TRUE(next.has_value()) << id;
      furthest = std::max(furthest, *next);
    }
    std::optional<ChunkDigest> victim = policy->PickVictim(evictable);
    ASSERT_TRUE(victim.has_value());
    ASSERT_TRUE(evictable(*victim));
    const std::optional<double> victim_next = policy->NextKnownUse(*victim);
    ASSERT_TRUE(victim_next.has_value());
    EXPECT_EQ(*victim_next, furthest) << "round " << round;
    for (uint64_t id : inserted) {
      if (Key(id) == *victim) {
        inserted.erase(id);
        break;
      }
    }
  }
}

// ---- Targets on the simulated workloads.

const std::vector<BlockRequest>& TraceRequests() {
  static const std::vector<BlockRequest>* requests = [] {
    const std::string path = (testing::SharedDir() / "traces" / "cloudPhysicsIO.vscsi").string();
    absl::StatusOr<std::vector<BlockRequest>> read = ReadBlockTraceFile(path, TraceFormat::kVscsi);
    EXPECT_TRUE(read.ok()) << read.status();
    return new std::vector<BlockRequest>(read.ok() ? std::move(*read)
                                                   : std::vector<BlockRequest>{});
  }();
  return *requests;
}

ReplayResult Replay(const ReplayWorkload& workload, std::string_view policy, uint64_t chunks) {
  absl::StatusOr<ReplayResult> result = PolicyOnlyReplay(workload, policy, chunks);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ReplayResult{};
}

// qemu live-restore, cloudPhysics guest reads, 4 MiB chunks: the upstream fetches close at
// least half of the gap between the best classic policy and OPT, and the guest waits for no
// more misses than with the default policy.
TEST(IndexAwarePolicyTargetTest, QemuLiveRestoreClosesHalfTheGapToOpt) {
  absl::StatusOr<QemuLiveRestore> model =
      ModelQemuLiveRestore(TraceRequests(), {.chunk_size = kChunk, .reads_only = true});
  ASSERT_TRUE(model.ok()) << model.status();
  for (uint64_t chunks : {16, 64}) {
    SCOPED_TRACE(::testing::Message() << chunks << " chunks");
    uint64_t best_classic = UINT64_MAX;
    for (std::string_view policy : EvictionPolicyNames()) {
      if (policy != "index") {
        best_classic = std::min(best_classic, Replay(model->workload, policy, chunks).misses());
      }
    }
    const uint64_t opt = Replay(model->workload, "opt", chunks).misses();
    const ReplayResult index = Replay(model->workload, "index", chunks);
    const ReplayResult fallback = Replay(model->workload, DefaultEvictionPolicyName(), chunks);
    ASSERT_LT(opt, best_classic);
    EXPECT_LE(index.misses(), best_classic - (best_classic - opt) / 2)
        << "index " << index.misses() << " best classic " << best_classic << " opt " << opt;
    EXPECT_LE(index.guest.misses, fallback.guest.misses);
  }
}

// Two restores of one archive: the chunks between the leader and the trailer are kept. The
// trailer at half speed (the interval grows to 5/8 of the archive, the cache holds 1/2): LRU
// refetches 3/4 of the archive, the index policy what OPT does. Started 0.6 through (the
// interval never fits): LRU refetches everything, the index policy 1/5.
TEST(IndexAwarePolicyTargetTest, TwoRestoresKeepTheIntervalBetweenThem) {
  constexpr uint64_t kArchive = 1000;
  absl::StatusOr<ReplayWorkload> slow =
      TwoConcurrentRestores({.archive_chunks = kArchive, .second_speed = 0.5});
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(Replay(*slow, "lru", kArchive / 2).readers.at(1).misses, 750u);
  EXPECT_LE(Replay(*slow, "index", kArchive / 2).readers.at(1).misses,
            Replay(*slow, "opt", kArchive / 2).readers.at(1).misses + 2);
  absl::StatusOr<ReplayWorkload> late =
      TwoConcurrentRestores({.archive_chunks = kArchive, .second_start = 0.6});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(Replay(*late, "lru", kArchive / 2).readers.at(1).misses, kArchive);
  EXPECT_LE(Replay(*late, "index", kArchive / 2).readers.at(1).misses, kArchive / 5);
  absl::StatusOr<ReplayWorkload> quarter = TwoConcurrentRestores({.archive_chunks = kArchive});
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(Replay(*quarter, "index", kArchive / 2).readers.at(1).misses, 0u);
}

// No streams: the plain trace replays exactly as with the default policy.
TEST(IndexAwarePolicyTargetTest, PlainTraceIsTheDefaultPolicys) {
  absl::StatusOr<ChunkAccessTrace> trace = ToChunkAccesses(TraceRequests(), {.chunk_size = kChunk});
  ASSERT_TRUE(trace.ok());
  ReplayWorkload workload;
  workload.accesses = GuestAccesses(*trace);
  for (uint64_t chunks : {16, 80}) {
    EXPECT_EQ(Replay(workload, "index", chunks).guest.misses,
              Replay(workload, DefaultEvictionPolicyName(), chunks).guest.misses)
        << chunks;
  }
}

}  // namespace
}  // namespace chunkcache
