// cache_bench: the cost of a cache hit — lookup, pin and unpin — single-threaded and with two
// threads on one cache (bench/RESULTS.md, "Cache").
//
//   build/bin/cache_bench --benchmark_min_time=0.5
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "cache/chunk_cache.h"
#include "cache/snapshot_session.h"
#include "format/chunk_index.h"
#include "format/manifest.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

constexpr int kChunks = 64;
constexpr uint64_t kChunkSize = 1 << 20;

// One cache with kChunks chunks of 1 MiB cached, and a session over an archive made of them.
struct HitFixture {
  // `policy`: the eviction policy's name; empty = the default.
  explicit HitFixture(const std::string& policy = "") {
    char dir_template[] = "/tmp/chunkcache-bench-XXXXXX";
    dir = mkdtemp(dir_template);
    upstream = std::make_shared<MemoryUpstream>();
    auto source = std::make_shared<const ChunkSource>(ChunkSource{"bench", upstream});
    std::vector<ChunkDigest> digests;
    for (int i = 0; i < kChunks; ++i) {
      std::string data(kChunkSize, '\0');
      std::memcpy(data.data(), &i, sizeof(i));  // distinct chunks
      digests.push_back(*upstream->AddChunkData(data));
      requests.push_back(MakeChunkRequest(source, digests.back(), kChunkSize));
    }
    ChunkCacheOptions options;
    options.cache_dir = dir;
    options.capacity_bytes = uint64_t{2} * kChunks * kChunkSize;
    options.policy = policy;
    cache = *ChunkCache::Open(options);
    for (const ChunkRequest& r : requests) {
      absl::StatusOr<ChunkHandle> chunk = cache->Get(r, absl::Now() + absl::Seconds(60));
      if (!chunk.ok()) {
        std::fprintf(stderr, "cannot fill the cache: %s\n",
                     std::string(chunk.status().message()).c_str());
        std::exit(1);
      }
    }

    SnapshotName snapshot;
    snapshot.backup_type = "vm";
    snapshot.backup_id = "1";
    snapshot.backup_time = 1700000000;
    std::string index =
        *EncodeFixedIndex(kChunks * kChunkSize, kChunkSize, digests, IndexHeaderFields{});
    ManifestContent manifest{"vm", "1", 1700000000, {}};
    manifest.files.push_back(ManifestFile{"drive-scsi0.img.fidx", CryptMode::kNone,
                                          kChunks * kChunkSize,
                                          ChunkIndex::Parse(index)->index_csum()});
    (void)upstream->AddSnapshotFile(snapshot, "drive-scsi0.img.fidx", index);
    (void)upstream->AddSnapshotFile(snapshot, "index.json.blob",
                                    *EncodeBlob(EncodeManifestJson(manifest, nullptr), {}));
    SessionOptions session_options;
    session_options.readahead.enabled = false;
    session = *SnapshotSession::Open(cache.get(), DatastoreRef{"bench", upstream, nullptr},
                                     snapshot, "drive-scsi0.img.fidx", session_options);
  }
  ~HitFixture() {
    session.reset();
    cache.reset();
    std::filesystem::remove_all(dir);
  }

  std::filesystem::path dir;
  std::shared_ptr<MemoryUpstream> upstream;
  std::vector<ChunkRequest> requests;
  std::unique_ptr<ChunkCache> cache;
  std::shared_ptr<SnapshotSession> session;
};

HitFixture& Fixture() {
  static HitFixture fixture;
  return fixture;
}

// The same, with the index-aware policy (its sessions register sequential readers).
HitFixture& IndexFixture() {
  static HitFixture fixture("index");
  return fixture;
}

// Counts the times the calling thread blocked (voluntary context switches: a contended mutex
// that stops spinning and sleeps in the kernel) while it lives, and reports them per 1000
// operations of the benchmark, averaged over its threads. Lock contention shows here even when
// shared, noisy machines blur the timings.
class BlockingCounter {
 public:
  explicit BlockingCounter(benchmark::State& state) : state_(state) {
    start_ = VoluntarySwitches();
  }
  ~BlockingCounter() {
    const double blocked = static_cast<double>(VoluntarySwitches() - start_);
    state_.counters["blocked_per_kop"] = benchmark::Counter(
        state_.iterations() == 0 ? 0 : 1000 * blocked / static_cast<double>(state_.iterations()),
        benchmark::Counter::kAvgThreads);
  }

 private:
  static int64_t VoluntarySwitches() {
    struct rusage usage;
    getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nvcsw;
  }
  benchmark::State& state_;
  int64_t start_;
};

// Asynchronous lookup of a cached chunk: find, pin, hand back the handle, unpin.
void BM_HitLookupPinUnpin(benchmark::State& state) {
  HitFixture& f = Fixture();
  BlockingCounter blocking(state);
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    ChunkLookup lookup = f.cache->Lookup(f.requests[i++ % kChunks], [](auto) {});
    absl::StatusOr<ChunkHandle> chunk = lookup.TakeResult();
    benchmark::DoNotOptimize(chunk->data().data());
  }
}
BENCHMARK(BM_HitLookupPinUnpin)->Threads(1)->Threads(2)->UseRealTime();

// The same through the synchronous Get with a deadline.
void BM_HitGet(benchmark::State& state) {
  HitFixture& f = Fixture();
  BlockingCounter blocking(state);
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    absl::StatusOr<ChunkHandle> chunk = f.cache->Get(f.requests[i++ % kChunks], deadline);
    benchmark::DoNotOptimize(chunk->data().data());
  }
}
BENCHMARK(BM_HitGet)->Threads(1)->Threads(2)->UseRealTime();

// The baseline for the two-thread runs above: the same hits, each also moving its chunk to the
// front of one cache-wide LRU list under one cache-wide mutex, as a cache that updates its
// policy in line on every hit does. Its blocked_per_kop and time per operation show what a
// global lock on the hit path costs on this machine.
void BM_HitGetUnderGlobalMutex(benchmark::State& state) {
  HitFixture& f = Fixture();
  BlockingCounter blocking(state);
  static std::mutex global_mu;
  static std::list<size_t> lru;
  static std::vector<std::list<size_t>::iterator> position = [] {
    std::vector<std::list<size_t>::iterator> at;
    for (size_t n = 0; n < kChunks; ++n) at.push_back(lru.insert(lru.end(), n));
    return at;
  }();
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    const size_t n = i++ % kChunks;
    absl::StatusOr<ChunkHandle> chunk = f.cache->Get(f.requests[n], deadline);
    {
      std::lock_guard<std::mutex> lock(global_mu);
      lru.splice(lru.begin(), lru, position[n]);
    }
    benchmark::DoNotOptimize(chunk->data().data());
  }
}
BENCHMARK(BM_HitGetUnderGlobalMutex)->Threads(1)->Threads(2)->UseRealTime();

// Pin and unpin alone: copying a handle of one shared (hot) chunk.
void BM_HandleCopyOneHotChunk(benchmark::State& state) {
  HitFixture& f = Fixture();
  static const ChunkHandle hot = *f.cache->Get(f.requests[0], absl::Now() + absl::Hours(1));
  for (auto _ : state) {
    ChunkHandle copy = hot;
    benchmark::DoNotOptimize(copy.data().data());
  }
}
BENCHMARK(BM_HandleCopyOneHotChunk)->Threads(1)->Threads(2)->UseRealTime();

// A 64 KiB read of a cached archive: locate, look up, pin, build the slice, unpin.
void BM_SessionRead64KiBHit(benchmark::State& state) {
  HitFixture& f = Fixture();
  BlockingCounter blocking(state);
  uint64_t offset = static_cast<uint64_t>(state.thread_index()) * 7 * kChunkSize;
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    absl::StatusOr<RangeRead> read = f.session->Read(offset, 64 * 1024, deadline);
    benchmark::DoNotOptimize(read->slices.data());
    offset = (offset + 3 * kChunkSize + 4096) % (kChunks * kChunkSize - 65536);
  }
  state.SetBytesProcessed(state.iterations() * 64 * 1024);
}
BENCHMARK(BM_SessionRead64KiBHit)->Threads(1)->Threads(2)->UseRealTime();

// Sequential 64 KiB reads of a cached archive (a restore whose chunks are all cached), each
// thread its own stream over half the archive, starting over at its end: with the default
// policy (argument 0) and with the index-aware one (argument 1), whose sessions register each
// reader as a stream, move it on every read and open a new one at every start-over. The
// ratio of the two is the cost of feeding the policy on the hit path.
void BM_SessionStreamRead64KiBHit(benchmark::State& state) {
  HitFixture& f = state.range(0) == 0 ? Fixture() : IndexFixture();
  BlockingCounter blocking(state);
  const uint64_t half = kChunks / 2 * kChunkSize;
  const uint64_t base = static_cast<uint64_t>(state.thread_index() % 2) * half;
  uint64_t position = 0;
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    absl::StatusOr<RangeRead> read = f.session->Read(base + position, 64 * 1024, deadline);
    benchmark::DoNotOptimize(read->slices.data());
    position = (position + 64 * 1024) % half;
  }
  state.SetBytesProcessed(state.iterations() * 64 * 1024);
  state.counters["streams_open"] = static_cast<double>(f.session->reader_streams_open());
}
BENCHMARK(BM_SessionStreamRead64KiBHit)
    ->ArgName("index_policy")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// Fragmentation under churn with dynamic-index chunk sizes: 1-16 MiB (mean about 4 MiB, as
// the PBS chunker makes them) plus one in ten small tail chunks (5000 bytes to 64 KiB), over
// four times the capacity, looked up with a skew (80 % of lookups go to the first 20 % of the
// chunks). Reports the arena's reserved/used ratio, how full it is, the miss ratio, and how
// many evictions were made only to merge free space.
void BM_DynamicChunkChurnFragmentation(benchmark::State& state) {
  constexpr uint64_t kCapacity = uint64_t{256} << 20;
  char dir_template[] = "/tmp/chunkcache-bench-XXXXXX";
  const std::filesystem::path dir = mkdtemp(dir_template);
  auto upstream = std::make_shared<MemoryUpstream>();
  auto source = std::make_shared<const ChunkSource>(ChunkSource{"bench", upstream});
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> extra_mib(1.0 / 3.0);
  std::vector<ChunkRequest> chunks;
  uint64_t total = 0;
  while (total < 4 * kCapacity) {
    uint64_t size;
    if (rng() % 10 == 0) {
      size = 5000 + rng() % (64 * 1024 - 5000);
    } else {
      size = std::min<uint64_t>(16 << 20, (1 << 20) + uint64_t(extra_mib(rng) * (1 << 20)));
    }
    std::string data(size, '\0');
    const uint64_t id = chunks.size();
    std::memcpy(data.data(), &id, sizeof(id));
    chunks.push_back(MakeChunkRequest(source, *upstream->AddChunkData(data), size));
    total += size;
  }
  ChunkCacheOptions options;
  options.cache_dir = dir;
  options.capacity_bytes = kCapacity;
  options.max_concurrent_fetches = 2;
  std::unique_ptr<ChunkCache> cache = *ChunkCache::Open(options);
  double reserved_per_used_sum = 0;
  double used_fraction_sum = 0;
  int samples = 0;
  for (auto _ : state) {
    for (int i = 0; i < 1000; ++i) {
      const size_t hot = chunks.size() / 5;
      const size_t pick = rng() % 5 != 0 ? rng() % hot : hot + rng() % (chunks.size() - hot);
      absl::StatusOr<ChunkHandle> chunk = cache->Get(chunks[pick], absl::Now() + absl::Seconds(60));
      benchmark::DoNotOptimize(chunk.ok());
      if (i >= 200 && i % 10 == 0) {  // steady state: sample
        const CacheStats stats = cache->Stats();
        reserved_per_used_sum += stats.arena.reserved_per_used();
        used_fraction_sum += double(stats.arena.used_bytes) / double(kCapacity);
        ++samples;
      }
    }
  }
  const CacheStats stats = cache->Stats();
  state.counters["reserved_per_used"] = reserved_per_used_sum / samples;
  state.counters["used_of_capacity"] = used_fraction_sum / samples;
  state.counters["miss_ratio"] = double(stats.lookups.miss) / double(stats.lookups.total());
  state.counters["evictions"] = double(stats.evictions);
  state.counters["fragmentation_evictions"] = double(stats.arena.fragmentation_evictions);
  state.counters["fills_without_room"] = double(stats.fills_without_room);
  cache.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DynamicChunkChurnFragmentation)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
}  // namespace chunkcache

BENCHMARK_MAIN();
