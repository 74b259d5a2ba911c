// policy_memory_bench: heap bytes per tracked key of every eviction policy.
//
// For each policy of EvictionPolicyNames() and each N, a policy with a capacity of exactly N
// 4 MiB chunks is filled with N keys, then fed a skewed stream of 8N demand accesses over 4N
// keys (hits, and misses that evict; many misses are on keys evicted a little earlier, so
// ghost lists fill up and get used). The heap the policy holds is measured with glibc's
// mallinfo2() (uordblks + hblkhd: small-object heap plus mmap'd blocks) before the policy is
// made and after each phase; the bench's own bookkeeping is allocated before the first
// measurement. Reported: heap bytes per tracked key after the fill and after the stream.
//
//   build/bin/policy_memory_bench [N ...]   (default: 2048 65536)
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/eviction_policy.h"
#include "cache/trace/chunk_key.h"

namespace chunkcache {
namespace {

constexpr uint64_t kChunkSize = 4 << 20;

int64_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

uint64_t IdOf(const ChunkDigest& key) {  // inverse of ChunkKeyForId
  uint64_t id;
  std::memcpy(&id, key.bytes.data() + sizeof(uint64_t), sizeof(id));
  return id;
}

struct Result {
  double fill_bytes_per_key = 0;
  double steady_bytes_per_key = 0;
  size_t steady_tracked = 0;
  uint64_t misses = 0;
};

Result Measure(std::string_view name, uint64_t n) {
  const uint64_t universe = 4 * n;
  std::vector<uint8_t> resident(universe, 0);  // the model, allocated before measuring
  uint64_t resident_count = 0;
  std::mt19937_64 random(42);
  auto any_key = [](const ChunkDigest&) { return true; };
  Result result;

  const int64_t before = HeapBytes();
  std::unique_ptr<EvictionPolicy> policy = *MakeEvictionPolicy(name, n * kChunkSize);
  auto demand = [&](uint64_t id) {
    const ChunkDigest key = ChunkKeyForId(id);
    if (resident[id]) {
      policy->OnAccess(key);
      return;
    }
    ++result.misses;
    policy->OnMiss(key);
    while (resident_count >= n) {
      std::optional<ChunkDigest> victim = policy->PickVictim(any_key);
      if (!victim) std::abort();
      resident[IdOf(*victim)] = 0;
      --resident_count;
    }
    policy->OnInsert(key, kChunkSize, InsertKind::kDemand);
    resident[id] = 1;
    ++resident_count;
  };

  for (uint64_t id = 0; id < n; ++id) demand(id);
  result.fill_bytes_per_key =
      static_cast<double>(HeapBytes() - before) / static_cast<double>(policy->tracked());
  for (uint64_t step = 0; step < 8 * n; ++step) {
    // Skewed toward small ids: a hot set that stays cached and a long tail that misses.
    const uint64_t a = random() % universe, b = random() % universe;
    demand(a * b / universe);
  }
  result.steady_tracked = policy->tracked();
  result.steady_bytes_per_key =
      static_cast<double>(HeapBytes() - before) / static_cast<double>(policy->tracked());
  return result;
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) {
  std::vector<uint64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {2048, 65536};
  std::printf("| policy | N | heap B/key after fill | heap B/key after stream | misses |\n");
  std::printf("|---|---|---|---|---|\n");
  for (std::string_view name : chunkcache::EvictionPolicyNames()) {
    for (uint64_t n : sizes) {
      const chunkcache::Result r = chunkcache::Measure(name, n);
      std::printf("| %s | %llu | %.0f | %.0f | %llu |\n", std::string(name).c_str(),
                  static_cast<unsigned long long>(n), r.fill_bytes_per_key, r.steady_bytes_per_key,
                  static_cast<unsigned long long>(r.misses));
    }
  }
  return 0;
}
