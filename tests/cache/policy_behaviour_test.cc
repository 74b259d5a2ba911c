// What sets each policy apart: LRU order, SIEVE's hand, S3-FIFO's queues and ghost, ARC's
// adaptation, 2Q's A1in/A1out, the prefetch FIFO and the expert switch.
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cache/policies/arc_policy.h"
#include "cache/policies/expert_switch_policy.h"
#include "cache/policies/lru_policy.h"
#include "cache/policies/prefetch_fifo_policy.h"
#include "cache/policies/s3fifo_policy.h"
#include "cache/policies/sieve_policy.h"
#include "cache/policies/two_queue_policy.h"
#include "cache/trace/chunk_key.h"
#include "gtest/gtest.h"

namespace chunkcache {
namespace {

constexpr uint64_t kUnit = 4 << 20;

ChunkDigest Key(uint64_t id) { return ChunkKeyForId(id); }
bool AnyKey(const ChunkDigest&) { return true; }

void InsertAll(EvictionPolicy& policy, std::initializer_list<uint64_t> ids) {
  for (uint64_t id : ids) policy.OnInsert(Key(id), kUnit, InsertKind::kDemand);
}

std::vector<ChunkDigest> Drain(EvictionPolicy& policy) {
  std::vector<ChunkDigest> victims;
  while (std::optional<ChunkDigest> victim = policy.PickVictim(AnyKey)) victims.push_back(*victim);
  return victims;
}

std::vector<ChunkDigest> Keys(std::initializer_list<uint64_t> ids) {
  std::vector<ChunkDigest> keys;
  for (uint64_t id : ids) keys.push_back(Key(id));
  return keys;
}

// A miss as the cache makes it: OnMiss, one victim (the cache is full), OnInsert.
std::optional<ChunkDigest> MissWhenFull(EvictionPolicy& policy, uint64_t id) {
  policy.OnMiss(Key(id));
  std::optional<ChunkDigest> victim = policy.PickVictim(AnyKey);
  policy.OnInsert(Key(id), kUnit, InsertKind::kDemand);
  return victim;
}

TEST(LruPolicyTest, EvictsLeastRecentlyUsedFirst) {
  LruPolicy lru;
  InsertAll(lru, {1, 2, 3, 4});
  lru.OnAccess(Key(1));
  lru.OnAccess(Key(3));
  EXPECT_EQ(Drain(lru), Keys({2, 4, 1, 3}));
}

TEST(LruPolicyTest, PinnedKeyKeepsItsPlace) {
  LruPolicy lru;
  InsertAll(lru, {1, 2, 3});
  auto not_one = [](const ChunkDigest& key) { return key != Key(1); };
  EXPECT_EQ(lru.PickVictim(not_one), Key(2));
  EXPECT_EQ(lru.PickVictim(AnyKey), Key(1));  // still the least recently used
}

TEST(SievePolicyTest, HandClearsVisitedKeysAndNewKeysGoFirst) {
  SievePolicy sieve;
  InsertAll(sieve, {1, 2, 3});
  sieve.OnAccess(Key(1));
  // The hand passes 1 (clearing its bit) and takes 2; it then rests at 3.
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(2));
  sieve.OnAccess(Key(1));
  InsertAll(sieve, {4});
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(3));
  // The hand wraps to 1, which was hit again, and then takes 4, the newest key: unlike LRU,
  // SIEVE keeps the old hot key and drops the new cold one.
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(4));
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(1));
}

TEST(SievePolicyTest, PinnedKeysAreSkippedWithTheirVisitedBitKept) {
  SievePolicy sieve;
  InsertAll(sieve, {1, 2, 3});
  sieve.OnAccess(Key(1));
  auto not_one = [](const ChunkDigest& key) { return key != Key(1); };
  EXPECT_EQ(sieve.PickVictim(not_one), Key(2));
  // 1 was pinned: its visited bit survived the pass, so 3 goes before it.
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(3));
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(1));
}

TEST(SievePolicyTest, ErasingTheKeyUnderTheHandMovesTheHand) {
  SievePolicy sieve;
  InsertAll(sieve, {1, 2, 3, 4});
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(1));  // hand rests at 2
  sieve.OnErase(Key(2));
  EXPECT_EQ(sieve.PickVictim(AnyKey), Key(3));
  EXPECT_EQ(sieve.tracked(), 1u);
}

TEST(S3FifoPolicyTest, GhostHitEntersMainQueue) {
  S3FifoPolicy s3fifo(10 * kUnit);  // small queue: 2 chunks (10% would be 1)
  for (uint64_t id = 1; id <= 10; ++id) InsertAll(s3fifo, {id});
  EXPECT_TRUE(s3fifo.InSmall(Key(1)));
  EXPECT_EQ(MissWhenFull(s3fifo, 11), Key(1));  // main is empty: the small queue gives
  EXPECT_TRUE(s3fifo.InGhost(Key(1)));
  EXPECT_EQ(MissWhenFull(s3fifo, 1), Key(2));
  EXPECT_TRUE(s3fifo.InMain(Key(1)));
  EXPECT_FALSE(s3fifo.InGhost(Key(1)));
  EXPECT_TRUE(s3fifo.InGhost(Key(2)));
}

TEST(S3FifoPolicyTest, KeyHitTwiceInSmallQueueMovesToMain) {
  S3FifoPolicy s3fifo(10 * kUnit);
  for (uint64_t id = 1; id <= 10; ++id) InsertAll(s3fifo, {id});
  s3fifo.OnAccess(Key(1));
  s3fifo.OnAccess(Key(1));
  s3fifo.OnAccess(Key(2));  // once is not enough
  EXPECT_EQ(MissWhenFull(s3fifo, 11), Key(2));
  EXPECT_TRUE(s3fifo.InMain(Key(1)));
  EXPECT_TRUE(s3fifo.InGhost(Key(2)));
}

TEST(S3FifoPolicyTest, MainQueueGivesSecondChancesWhileOverItsShare) {
  S3FifoPolicy s3fifo(4 * kUnit);  // small: 2 chunks, main: 2 chunks
  // Fill main with 1, 2, 3 through ghost hits: more than its share.
  for (uint64_t id : {1, 2, 3}) {
    InsertAll(s3fifo, {id});
    ASSERT_EQ(s3fifo.PickVictim(AnyKey), Key(id));
    s3fifo.OnMiss(Key(id));
    s3fifo.OnInsert(Key(id), kUnit, InsertKind::kDemand);
    ASSERT_TRUE(s3fifo.InMain(Key(id)));
  }
  s3fifo.OnAccess(Key(1));
  // Main holds 3 chunks > 2: 1 was hit, so it goes round again and 2 is evicted.
  EXPECT_EQ(s3fifo.PickVictim(AnyKey), Key(2));
  EXPECT_FALSE(s3fifo.InGhost(Key(2)));  // evictions from main leave no ghost
}

TEST(ArcPolicyTest, HitInT1MovesToT2AndGhostHitInB1GrowsT1Target) {
  ArcPolicy arc(4 * kUnit);
  InsertAll(arc, {1, 2, 3, 4});
  arc.OnAccess(Key(4));
  EXPECT_TRUE(arc.InT2(Key(4)));
  EXPECT_EQ(MissWhenFull(arc, 5), Key(1));  // T1's oldest, remembered in B1
  EXPECT_TRUE(arc.InB1(Key(1)));
  EXPECT_EQ(arc.target_t1_bytes(), 0.0);
  EXPECT_EQ(MissWhenFull(arc, 1), Key(2));
  EXPECT_TRUE(arc.InT2(Key(1)));
  EXPECT_EQ(arc.target_t1_bytes(), static_cast<double>(kUnit));
}

TEST(ArcPolicyTest, GhostHitInB2ShrinksT1Target) {
  ArcPolicy arc(2 * kUnit);
  InsertAll(arc, {1, 2});
  arc.OnAccess(Key(1));
  arc.OnAccess(Key(2));                     // T2 = {2, 1}
  EXPECT_EQ(MissWhenFull(arc, 3), Key(1));  // p = 0, T1 empty: T2's oldest
  EXPECT_TRUE(arc.InB2(Key(1)));
  EXPECT_EQ(MissWhenFull(arc, 4), Key(3));  // T1 over p = 0: T1's oldest, to B1
  // B1 hit: p grows by one chunk, so T1 (one chunk) is within its target: T2 gives.
  EXPECT_EQ(MissWhenFull(arc, 3), Key(2));
  EXPECT_EQ(arc.target_t1_bytes(), static_cast<double>(kUnit));
  EXPECT_TRUE(arc.InT2(Key(3)));
  arc.OnMiss(Key(1));  // B2 hit: p shrinks again
  EXPECT_EQ(arc.target_t1_bytes(), 0.0);
}

TEST(TwoQueuePolicyTest, HitsInA1inDoNotPromoteAndA1outHitsEnterAm) {
  TwoQueuePolicy two_q(4 * kUnit);  // A1in share: 1 chunk, A1out: 2 chunks
  InsertAll(two_q, {1, 2, 3, 4});
  two_q.OnAccess(Key(1));
  EXPECT_TRUE(two_q.InA1in(Key(1)));
  EXPECT_EQ(MissWhenFull(two_q, 5), Key(1));  // FIFO order in spite of the hit
  EXPECT_TRUE(two_q.InA1out(Key(1)));
  EXPECT_EQ(MissWhenFull(two_q, 1), Key(2));
  EXPECT_TRUE(two_q.InAm(Key(1)));
  EXPECT_TRUE(two_q.InA1out(Key(2)));
  EXPECT_FALSE(two_q.InA1out(Key(1)));
}

TEST(TwoQueuePolicyTest, AmIsLruWhenA1inIsWithinItsShare) {
  TwoQueuePolicy two_q(8 * kUnit);  // A1in share: 2 chunks, A1out: 4 chunks
  InsertAll(two_q, {1, 2, 3, 4});
  EXPECT_EQ(two_q.PickVictim(AnyKey), Key(1));  // A1in over its share
  EXPECT_EQ(two_q.PickVictim(AnyKey), Key(2));
  for (uint64_t id : {1, 2}) {  // back through A1out, into Am
    two_q.OnMiss(Key(id));
    two_q.OnInsert(Key(id), kUnit, InsertKind::kDemand);
    ASSERT_TRUE(two_q.InAm(Key(id)));
  }
  two_q.OnAccess(Key(1));
  EXPECT_EQ(Drain(two_q), Keys({2, 1, 3, 4}));
}

TEST(PrefetchFifoPolicyTest, UnreadPrefetchesGoFirstOldestFirst) {
  PrefetchFifoPolicy policy(std::make_unique<LruPolicy>());
  InsertAll(policy, {1, 2});
  policy.OnInsert(Key(10), kUnit, InsertKind::kPrefetch);
  policy.OnInsert(Key(11), kUnit, InsertKind::kPrefetch);
  EXPECT_EQ(policy.unread_prefetches(), 2u);
  EXPECT_EQ(policy.name(), "lru");
  EXPECT_EQ(Drain(policy), Keys({10, 11, 1, 2}));
}

TEST(PrefetchFifoPolicyTest, FirstReadHandsThePrefetchToTheDemandPolicy) {
  PrefetchFifoPolicy policy(std::make_unique<LruPolicy>());
  InsertAll(policy, {1});
  policy.OnInsert(Key(10), kUnit, InsertKind::kPrefetch);
  policy.OnAccess(Key(10));  // now the most recently used key
  EXPECT_EQ(policy.unread_prefetches(), 0u);
  EXPECT_EQ(policy.demand_policy().tracked(), 2u);
  EXPECT_EQ(Drain(policy), Keys({1, 10}));
}

TEST(PrefetchFifoPolicyTest, StreamReadsKeepThePrefetchInTheFifoAtItsNewestEnd) {
  PrefetchFifoPolicy policy(std::make_unique<LruPolicy>());
  InsertAll(policy, {1, 2});
  policy.OnInsert(Key(10), kUnit, InsertKind::kPrefetch);
  policy.OnInsert(Key(11), kUnit, InsertKind::kPrefetch);
  for (int piece = 0; piece < 3; ++piece) policy.OnStreamAccess(Key(10));  // read in pieces
  EXPECT_EQ(policy.unread_prefetches(), 2u);
  EXPECT_EQ(policy.demand_policy().tracked(), 2u);
  // 10 was consumed after 11 arrived: 11 goes first, then 10, then the demand entries.
  EXPECT_EQ(Drain(policy), Keys({11, 10, 1, 2}));
}

TEST(PrefetchFifoPolicyTest, AnotherReadersAccessAfterStreamReadsPromotes) {
  PrefetchFifoPolicy policy(std::make_unique<LruPolicy>());
  InsertAll(policy, {1, 2});
  policy.OnInsert(Key(10), kUnit, InsertKind::kPrefetch);
  policy.OnInsert(Key(11), kUnit, InsertKind::kPrefetch);
  policy.OnStreamAccess(Key(10));
  policy.OnAccess(Key(10));        // a reader other than the stream: the most recently used key
  policy.OnStreamAccess(Key(10));  // the stream again: an ordinary hit in the LRU now
  EXPECT_EQ(policy.unread_prefetches(), 1u);
  EXPECT_EQ(Drain(policy), Keys({11, 1, 2, 10}));
}

TEST(PrefetchFifoPolicyTest, PinnedPrefetchIsPassedOver) {
  PrefetchFifoPolicy policy(std::make_unique<LruPolicy>());
  InsertAll(policy, {1});
  policy.OnInsert(Key(10), kUnit, InsertKind::kPrefetch);
  policy.OnInsert(Key(11), kUnit, InsertKind::kPrefetch);
  auto not_ten = [](const ChunkDigest& key) { return key != Key(10); };
  EXPECT_EQ(policy.PickVictim(not_ten), Key(11));
  EXPECT_EQ(policy.PickVictim(not_ten), Key(1));
  EXPECT_EQ(policy.PickVictim(AnyKey), Key(10));
}

std::unique_ptr<ExpertSwitchPolicy> LruVersusS3Fifo(uint64_t capacity_chunks) {
  std::vector<std::unique_ptr<EvictionPolicy>> experts;
  experts.push_back(std::make_unique<LruPolicy>());
  experts.push_back(std::make_unique<S3FifoPolicy>(capacity_chunks * kUnit));
  return std::make_unique<ExpertSwitchPolicy>("switch", capacity_chunks * kUnit, std::move(experts),
                                              10);
}

// Runs `ids` through a count-based cache of `capacity` chunks; returns the misses and, when
// `victims` is set, appends the victims to it.
int Replay(EvictionPolicy& policy, const std::vector<uint64_t>& ids, size_t capacity,
           std::vector<ChunkDigest>* victims = nullptr) {
  std::vector<ChunkDigest> resident;
  int misses = 0;
  for (uint64_t id : ids) {
    if (std::find(resident.begin(), resident.end(), Key(id)) != resident.end()) {
      policy.OnAccess(Key(id));
      continue;
    }
    ++misses;
    policy.OnMiss(Key(id));
    if (resident.size() >= capacity) {
      std::optional<ChunkDigest> victim = policy.PickVictim(AnyKey);
      EXPECT_TRUE(victim.has_value());
      if (!victim) return misses;
      if (victims != nullptr) victims->push_back(*victim);
      resident.erase(std::find(resident.begin(), resident.end(), *victim));
    }
    policy.OnInsert(Key(id), kUnit, InsertKind::kDemand);
    resident.push_back(Key(id));
  }
  return misses;
}

TEST(ExpertSwitchPolicyTest, FollowsLruOnRecencyAndS3FifoWhenScansHurtLru) {
  constexpr size_t kCapacity = 20;
  auto policy = LruVersusS3Fifo(kCapacity);
  // Re-reading a few recent keys: LRU never misses after warm-up.
  std::vector<uint64_t> recency;
  for (uint64_t id = 0; id < 4000; ++id) recency.push_back(id / 4);
  Replay(*policy, recency, kCapacity);
  EXPECT_EQ(policy->leader(), "lru");
  // A hot set of 10 keys mixed with a one-time scan: LRU loses the hot keys, S3-FIFO keeps them.
  auto fresh = LruVersusS3Fifo(kCapacity);
  std::vector<uint64_t> scan_and_hot;
  for (uint64_t i = 0; i < 6000; ++i) {
    scan_and_hot.push_back(i % 3 == 0 ? 1000000 + i : (i / 3) % 10);
    if (i % 3 == 1) scan_and_hot.push_back(2000000 + i);
  }
  LruPolicy lru_alone;
  const int lru_misses = Replay(lru_alone, scan_and_hot, kCapacity);
  const int switch_misses = Replay(*fresh, scan_and_hot, kCapacity);
  EXPECT_EQ(fresh->leader(), "s3fifo");
  EXPECT_LT(switch_misses, lru_misses);
}

TEST(ExpertSwitchPolicyTest, WhileLruLeadsTheVictimsAreLrus) {
  constexpr size_t kCapacity = 20;
  // Every key is read again five keys later: LRU hits, S3-FIFO's small queue has already
  // dropped it, so LRU leads throughout.
  std::vector<uint64_t> ids;
  for (uint64_t id = 5; id < 2000; ++id) {
    ids.push_back(id);
    ids.push_back(id - 5);
  }
  auto policy = LruVersusS3Fifo(kCapacity);
  LruPolicy lru_alone;
  std::vector<ChunkDigest> switch_victims, lru_victims;
  Replay(*policy, ids, kCapacity, &switch_victims);
  Replay(lru_alone, ids, kCapacity, &lru_victims);
  EXPECT_EQ(policy->leader(), "lru");
  EXPECT_FALSE(lru_victims.empty());
  EXPECT_EQ(switch_victims, lru_victims);
}

}  // namespace
}  // namespace chunkcache
