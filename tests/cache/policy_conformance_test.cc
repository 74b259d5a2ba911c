// The conformance suite every eviction policy of EvictionPolicyNames() must pass.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cache/eviction_policy.h"
#include "cache/trace/chunk_key.h"
#include "gtest/gtest.h"

namespace chunkcache {
namespace {

constexpr uint64_t kMiB = 1 << 20;

ChunkDigest Key(uint64_t id) { return ChunkKeyForId(id); }

bool AnyKey(const ChunkDigest&) { return true; }

class PolicyConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<EvictionPolicy> Make(uint64_t capacity_bytes) {
    absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy =
        MakeEvictionPolicy(GetParam(), capacity_bytes);
    EXPECT_TRUE(policy.ok()) << policy.status();
    return policy.ok() ? std::move(*policy) : nullptr;
  }
};

TEST_P(PolicyConformanceTest, NameMatches) {
  auto policy = Make(64 * kMiB);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->name(), GetParam());
}

TEST_P(PolicyConformanceTest, EmptyPolicyHasNoVictim) {
  auto policy = Make(64 * kMiB);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->tracked(), 0u);
  EXPECT_FALSE(policy->PickVictim(AnyKey).has_value());
}

TEST_P(PolicyConformanceTest, NeverReturnsNonEvictableKeys) {
  auto policy = Make(16 * 4 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 20; ++id) policy->OnInsert(Key(id), 4 * kMiB, InsertKind::kDemand);
  for (uint64_t id = 0; id < 20; id += 3) policy->OnAccess(Key(id));
  absl::flat_hash_set<ChunkDigest> pinned;
  for (uint64_t id = 1; id < 20; id += 2) pinned.insert(Key(id));
  auto evictable = [&](const ChunkDigest& key) { return !pinned.contains(key); };
  absl::flat_hash_set<ChunkDigest> victims;
  for (int i = 0; i < 10; ++i) {
    std::optional<ChunkDigest> victim = policy->PickVictim(evictable);
    ASSERT_TRUE(victim.has_value()) << "victim " << i;
    EXPECT_FALSE(pinned.contains(*victim));
    EXPECT_TRUE(victims.insert(*victim).second) << "returned twice";
  }
  EXPECT_FALSE(policy->PickVictim(evictable).has_value());
  EXPECT_EQ(policy->tracked(), 10u);
  // The pinned keys kept their place: once released they drain normally.
  for (int i = 0; i < 10; ++i) {
    std::optional<ChunkDigest> victim = policy->PickVictim(AnyKey);
    ASSERT_TRUE(victim.has_value());
    EXPECT_TRUE(pinned.contains(*victim));
  }
  EXPECT_EQ(policy->tracked(), 0u);
}

TEST_P(PolicyConformanceTest, NothingEvictableGivesNulloptAndKeepsKeys) {
  auto policy = Make(8 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 5; ++id) policy->OnInsert(Key(id), kMiB, InsertKind::kDemand);
  policy->OnInsert(Key(5), kMiB, InsertKind::kPrefetch);
  auto none = [](const ChunkDigest&) { return false; };
  EXPECT_FALSE(policy->PickVictim(none).has_value());
  EXPECT_EQ(policy->tracked(), 6u);
}

TEST_P(PolicyConformanceTest, TrackedCountsInsertsEraseAndVictims) {
  auto policy = Make(32 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 6; ++id) policy->OnInsert(Key(id), kMiB, InsertKind::kDemand);
  for (uint64_t id = 6; id < 9; ++id) policy->OnInsert(Key(id), kMiB, InsertKind::kPrefetch);
  EXPECT_EQ(policy->tracked(), 9u);
  policy->OnAccess(Key(7));  // a prefetch read for the first time stays tracked
  EXPECT_EQ(policy->tracked(), 9u);
  policy->OnErase(Key(2));
  policy->OnErase(Key(8));
  EXPECT_EQ(policy->tracked(), 7u);
  policy->OnErase(Key(100));  // unknown: no effect
  EXPECT_EQ(policy->tracked(), 7u);
  ASSERT_TRUE(policy->PickVictim(AnyKey).has_value());
  EXPECT_EQ(policy->tracked(), 6u);
}

TEST_P(PolicyConformanceTest, TracksAndTrackedBytesFollowInsertsErasuresAndVictims) {
  auto policy = Make(32 * kMiB);
  ASSERT_NE(policy, nullptr);
  EXPECT_FALSE(policy->Tracks(Key(0)));
  EXPECT_EQ(policy->tracked_bytes(), 0u);
  for (uint64_t id = 0; id < 6; ++id)
    policy->OnInsert(Key(id), (id + 1) * kMiB, InsertKind::kDemand);
  policy->OnInsert(Key(6), 7 * kMiB, InsertKind::kPrefetch);
  for (uint64_t id = 0; id < 7; ++id) EXPECT_TRUE(policy->Tracks(Key(id))) << id;
  EXPECT_FALSE(policy->Tracks(Key(7)));
  EXPECT_EQ(policy->tracked_bytes(), 28 * kMiB);
  policy->OnAccess(Key(6));  // the prefetch's first read keeps it tracked, with its charge
  policy->OnAccess(Key(2));
  EXPECT_TRUE(policy->Tracks(Key(6)));
  EXPECT_EQ(policy->tracked_bytes(), 28 * kMiB);
  policy->OnErase(Key(3));
  EXPECT_FALSE(policy->Tracks(Key(3)));
  EXPECT_EQ(policy->tracked_bytes(), 24 * kMiB);
  // Victims are no longer tracked, even by policies that remember them as ghosts.
  uint64_t expected_bytes = 24 * kMiB;
  while (std::optional<ChunkDigest> victim = policy->PickVictim(AnyKey)) {
    EXPECT_FALSE(policy->Tracks(*victim));
    uint64_t id = 0;
    while (id < 7 && Key(id) != *victim) ++id;
    ASSERT_LT(id, 7u) << "not an inserted key";
    expected_bytes -= (id + 1) * kMiB;
    EXPECT_EQ(policy->tracked_bytes(), expected_bytes);
  }
  EXPECT_EQ(policy->tracked_bytes(), 0u);
  for (uint64_t id = 0; id < 7; ++id) EXPECT_FALSE(policy->Tracks(Key(id))) << id;
  // A key remembered as a ghost and inserted again is tracked again.
  policy->OnMiss(Key(0));
  policy->OnInsert(Key(0), kMiB, InsertKind::kDemand);
  EXPECT_TRUE(policy->Tracks(Key(0)));
  EXPECT_EQ(policy->tracked_bytes(), kMiB);
}

// AccessIfTracked is OnAccess on tracked keys (same victims afterwards) and does nothing on
// others, ghosts included.
TEST_P(PolicyConformanceTest, AccessIfTrackedIsOnAccessForTrackedKeysOnly) {
  constexpr uint64_t kCapacityChunks = 20;
  auto with_on_access = Make(kCapacityChunks * kMiB);
  auto with_access_if_tracked = Make(kCapacityChunks * kMiB);
  ASSERT_NE(with_on_access, nullptr);
  ASSERT_NE(with_access_if_tracked, nullptr);
  std::mt19937_64 random(5);
  absl::flat_hash_set<ChunkDigest> resident;
  for (int step = 0; step < 5000; ++step) {
    const ChunkDigest key = Key((random() % 60) * (random() % 60) / 60);
    // Every step also probes a key that may be a ghost or unknown.
    const ChunkDigest probe = Key(random() % 80);
    if (!resident.contains(probe)) {
      ASSERT_FALSE(with_access_if_tracked->AccessIfTracked(probe)) << "step " << step;
    }
    if (resident.contains(key)) {
      with_on_access->OnAccess(key);
      ASSERT_TRUE(with_access_if_tracked->AccessIfTracked(key)) << "step " << step;
      continue;
    }
    with_on_access->OnMiss(key);
    with_access_if_tracked->OnMiss(key);
    while (resident.size() >= kCapacityChunks) {
      std::optional<ChunkDigest> victim = with_on_access->PickVictim(AnyKey);
      ASSERT_TRUE(victim.has_value());
      ASSERT_EQ(with_access_if_tracked->PickVictim(AnyKey), victim) << "step " << step;
      resident.erase(*victim);
    }
    const InsertKind kind = step % 7 == 0 ? InsertKind::kPrefetch : InsertKind::kDemand;
    with_on_access->OnInsert(key, kMiB, kind);
    with_access_if_tracked->OnInsert(key, kMiB, kind);
    resident.insert(key);
  }
}

TEST_P(PolicyConformanceTest, ErasedKeysAreNeverVictims) {
  auto policy = Make(32 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 10; ++id) {
    policy->OnInsert(Key(id), kMiB, id % 3 == 0 ? InsertKind::kPrefetch : InsertKind::kDemand);
  }
  for (uint64_t id = 0; id < 10; id += 2) policy->OnErase(Key(id));
  size_t drained = 0;
  while (std::optional<ChunkDigest> victim = policy->PickVictim(AnyKey)) {
    for (uint64_t id = 0; id < 10; id += 2) EXPECT_NE(*victim, Key(id));
    ++drained;
  }
  EXPECT_EQ(drained, 5u);
}

TEST_P(PolicyConformanceTest, DrainReturnsEveryKeyExactlyOnce) {
  auto policy = Make(64 * kMiB);
  ASSERT_NE(policy, nullptr);
  std::mt19937_64 random(7);
  absl::flat_hash_set<ChunkDigest> inserted;
  for (uint64_t id = 0; id < 200; ++id) {
    policy->OnMiss(Key(id));
    policy->OnInsert(Key(id), kMiB * (1 + random() % 4),
                     id % 5 == 0 ? InsertKind::kPrefetch : InsertKind::kDemand);
    inserted.insert(Key(id));
    for (int hits = random() % 4; hits > 0; --hits) policy->OnAccess(Key(random() % (id + 1)));
  }
  absl::flat_hash_set<ChunkDigest> drained;
  while (std::optional<ChunkDigest> victim = policy->PickVictim(AnyKey)) {
    EXPECT_TRUE(inserted.contains(*victim));
    EXPECT_TRUE(drained.insert(*victim).second) << "returned twice: " << victim->ShortHex();
  }
  EXPECT_EQ(drained, inserted);
  EXPECT_EQ(policy->tracked(), 0u);
}

TEST_P(PolicyConformanceTest, UnreadPrefetchIsEvictedBeforeHotKeys) {
  auto policy = Make(10 * 4 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 9; ++id) policy->OnInsert(Key(id), 4 * kMiB, InsertKind::kDemand);
  for (int round = 0; round < 3; ++round) {
    for (uint64_t id = 0; id < 9; ++id) policy->OnAccess(Key(id));
  }
  policy->OnInsert(Key(100), 4 * kMiB, InsertKind::kPrefetch);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(100));
}

TEST_P(PolicyConformanceTest, PrefetchScanDoesNotFlushHotKeys) {
  constexpr uint64_t kCapacityChunks = 16;
  auto policy = Make(kCapacityChunks * 4 * kMiB);
  ASSERT_NE(policy, nullptr);
  absl::flat_hash_set<ChunkDigest> resident;
  auto demand = [&](uint64_t id) {
    if (resident.contains(Key(id))) {
      policy->OnAccess(Key(id));
      return;
    }
    policy->OnMiss(Key(id));
    while (resident.size() >= kCapacityChunks) resident.erase(*policy->PickVictim(AnyKey));
    policy->OnInsert(Key(id), 4 * kMiB, InsertKind::kDemand);
    resident.insert(Key(id));
  };
  for (int round = 0; round < 4; ++round) {
    for (uint64_t id = 0; id < 12; ++id) demand(id);
  }
  for (uint64_t id = 1000; id < 1500; ++id) {  // a copy job reading every chunk once
    while (resident.size() >= kCapacityChunks) resident.erase(*policy->PickVictim(AnyKey));
    policy->OnInsert(Key(id), 4 * kMiB, InsertKind::kPrefetch);
    resident.insert(Key(id));
  }
  for (uint64_t id = 0; id < 12; ++id) EXPECT_TRUE(resident.contains(Key(id))) << "hot " << id;
}

TEST_P(PolicyConformanceTest, PrefetchThatIsReadBecomesAnOrdinaryEntry) {
  auto policy = Make(8 * kMiB);
  ASSERT_NE(policy, nullptr);
  policy->OnInsert(Key(1), kMiB, InsertKind::kPrefetch);
  policy->OnAccess(Key(1));
  for (int i = 0; i < 3; ++i) policy->OnAccess(Key(1));
  policy->OnInsert(Key(2), kMiB, InsertKind::kPrefetch);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(2));
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(1));
}

TEST_P(PolicyConformanceTest, StreamReadsLeaveAPrefetchFirstInLine) {
  auto policy = Make(10 * 4 * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < 8; ++id) policy->OnInsert(Key(id), 4 * kMiB, InsertKind::kDemand);
  for (int round = 0; round < 3; ++round) {
    for (uint64_t id = 0; id < 8; ++id) policy->OnAccess(Key(id));
  }
  policy->OnInsert(Key(100), 4 * kMiB, InsertKind::kPrefetch);
  policy->OnInsert(Key(101), 4 * kMiB, InsertKind::kPrefetch);
  for (int piece = 0; piece < 4; ++piece) policy->OnStreamAccess(Key(100));
  EXPECT_EQ(policy->tracked(), 10u);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(101));
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(100));
  // Another reader's read of a stream-read prefetch makes it an ordinary entry.
  policy->OnInsert(Key(102), kMiB, InsertKind::kPrefetch);
  policy->OnStreamAccess(Key(102));
  for (int i = 0; i < 4; ++i) policy->OnAccess(Key(102));
  policy->OnInsert(Key(103), kMiB, InsertKind::kPrefetch);
  EXPECT_EQ(policy->PickVictim(AnyKey), Key(103));
  EXPECT_TRUE(policy->Tracks(Key(102)));
}

// Equal charges of any size give the same victims as a count-based run.
TEST_P(PolicyConformanceTest, EqualChargesOfAnySizeGiveTheSameVictims) {
  constexpr uint64_t kCapacityChunks = 37;
  std::vector<std::vector<ChunkDigest>> victims_by_charge;
  for (uint64_t charge : {uint64_t{1}, uint64_t{3}, 4 * kMiB, 16 * kMiB + 7}) {
    auto policy = Make(kCapacityChunks * charge);
    ASSERT_NE(policy, nullptr);
    std::mt19937_64 random(11);
    absl::flat_hash_set<ChunkDigest> resident;
    std::vector<ChunkDigest> victims;
    for (int step = 0; step < 20000; ++step) {
      // A skewed working set of 150 keys: small ids are hot.
      const uint64_t id = (random() % 150) * (random() % 150) / 150;
      const ChunkDigest key = Key(id);
      if (resident.contains(key)) {
        policy->OnAccess(key);
        continue;
      }
      policy->OnMiss(key);
      while (resident.size() >= kCapacityChunks) {
        std::optional<ChunkDigest> victim = policy->PickVictim(AnyKey);
        ASSERT_TRUE(victim.has_value());
        ASSERT_EQ(resident.erase(*victim), 1u);
        victims.push_back(*victim);
      }
      policy->OnInsert(key, charge, InsertKind::kDemand);
      resident.insert(key);
    }
    victims_by_charge.push_back(std::move(victims));
  }
  for (size_t i = 1; i < victims_by_charge.size(); ++i) {
    EXPECT_EQ(victims_by_charge[i], victims_by_charge[0]) << "charge set " << i;
  }
}

// A byte-bounded cache with mixed charges (1-16 MiB), pins, erasures and prefetches, checked
// against a model (tracked keys and bytes) after every operation.
TEST_P(PolicyConformanceTest, RandomOperationsKeepInvariants) {
  constexpr uint64_t kCapacity = 256 * kMiB;
  for (uint64_t seed : {1, 2, 3}) {
    auto policy = Make(kCapacity);
    ASSERT_NE(policy, nullptr);
    std::mt19937_64 random(seed);
    absl::flat_hash_map<ChunkDigest, uint64_t> resident;  // key -> charge
    uint64_t resident_bytes = 0;
    absl::flat_hash_set<ChunkDigest> pinned;
    auto evictable = [&](const ChunkDigest& key) { return !pinned.contains(key); };
    for (int step = 0; step < 5000; ++step) {
      const ChunkDigest key = Key(random() % 120);
      const int op = static_cast<int>(random() % 10);
      if (op == 0 && resident.contains(key)) {
        policy->OnErase(key);
        resident_bytes -= resident[key];
        resident.erase(key);
        pinned.erase(key);
      } else if (op == 1 && resident.contains(key)) {
        if (!pinned.insert(key).second) pinned.erase(key);
      } else if (op == 3 && resident.contains(key)) {
        policy->OnStreamAccess(key);
      } else if (resident.contains(key)) {
        policy->OnAccess(key);
      } else {
        const bool prefetch = op == 2;
        const uint64_t charge = kMiB * (1 + random() % 16);
        if (!prefetch) policy->OnMiss(key);
        while (resident_bytes + charge > kCapacity) {
          std::optional<ChunkDigest> victim = policy->PickVictim(evictable);
          bool any_evictable = false;
          for (const auto& [k, c] : resident) any_evictable |= evictable(k);
          ASSERT_EQ(victim.has_value(), any_evictable) << "step " << step;
          if (!victim) break;
          ASSERT_TRUE(resident.contains(*victim)) << "step " << step;
          ASSERT_FALSE(pinned.contains(*victim)) << "step " << step;
          resident_bytes -= resident[*victim];
          resident.erase(*victim);
        }
        if (resident_bytes + charge > kCapacity) {
          // Everything left is pinned: unpin all (the cache would fail the fill instead).
          pinned.clear();
          continue;
        }
        policy->OnInsert(key, charge, prefetch ? InsertKind::kPrefetch : InsertKind::kDemand);
        resident[key] = charge;
        resident_bytes += charge;
      }
      ASSERT_EQ(policy->tracked(), resident.size()) << "step " << step;
      ASSERT_EQ(policy->tracked_bytes(), resident_bytes) << "step " << step;
      ASSERT_EQ(policy->Tracks(key), resident.contains(key)) << "step " << step;
      if (step % 500 == 0) {
        for (uint64_t id = 0; id < 120; ++id) {
          ASSERT_EQ(policy->Tracks(Key(id)), resident.contains(Key(id))) << "step " << step;
        }
      }
    }
  }
}

// Passing over pinned keys costs work proportional to the pinned keys met, not to the cache.
TEST_P(PolicyConformanceTest, PinnedKeysDoNotMakeVictimSearchScaleWithTheCache) {
  constexpr uint64_t kKeys = 4000;
  constexpr uint64_t kPinned = 100;
  auto policy = Make(kKeys * kMiB);
  ASSERT_NE(policy, nullptr);
  for (uint64_t id = 0; id < kKeys; ++id) policy->OnInsert(Key(id), kMiB, InsertKind::kDemand);
  for (uint64_t id = 0; id < kKeys; id += 7) policy->OnAccess(Key(id));
  absl::flat_hash_set<ChunkDigest> pinned;
  for (uint64_t id = 0; id < kPinned; ++id) pinned.insert(Key(id));  // the oldest keys
  uint64_t predicate_calls = 0;
  auto evictable = [&](const ChunkDigest& key) {
    ++predicate_calls;
    return !pinned.contains(key);
  };
  constexpr int kVictims = 1000;
  for (int i = 0; i < kVictims; ++i) ASSERT_TRUE(policy->PickVictim(evictable).has_value());
  EXPECT_LE(predicate_calls / kVictims, 4 * kPinned + 16) << predicate_calls;
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyConformanceTest, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (std::string_view name : EvictionPolicyNames()) {
                             names.emplace_back(name);
                           }
                           return names;
                         }()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name == "2q" ? std::string("two_q") : name;
                         });

TEST(PolicyFactoryTest, UnknownNameIsInvalidArgumentNamingTheKnownPolicies) {
  absl::StatusOr<std::unique_ptr<EvictionPolicy>> policy = MakeEvictionPolicy("mru", kMiB);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  for (std::string_view name : EvictionPolicyNames()) {
    EXPECT_NE(policy.status().message().find(std::string(name)), std::string::npos) << name;
  }
}

TEST(PolicyFactoryTest, DefaultComesFirstAndTheBaselineExists) {
  std::vector<std::string_view> names = EvictionPolicyNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), DefaultEvictionPolicyName());
  EXPECT_NE(std::find(names.begin(), names.end(), "lru"), names.end());
  EXPECT_EQ(std::set<std::string_view>(names.begin(), names.end()).size(), names.size());
}

}  // namespace
}  // namespace chunkcache
