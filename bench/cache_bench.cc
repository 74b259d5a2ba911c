// cache_bench: the cost of a cache hit — lookup, pin and unpin — single-threaded and with two
// threads on one cache (bench/RESULTS.md, "Cache").
//
//   build/bin/cache_bench --benchmark_min_time=0.5
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
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
  HitFixture() {
    char dir_template[] = "/tmp/chunkcache-bench-XXXXXX";
    dir = mkdtemp(dir_template);
    upstream = std::make_shared<MemoryUpstream>();
    auto source = std::make_shared<const ChunkSource>(ChunkSource{"bench", upstream});
    std::vector<ChunkDigest> digests;
    for (int i = 0; i < kChunks; ++i) {
      std::string data(kChunkSize, static_cast<char>(i));
      data.replace(0, 8, std::to_string(1000000 + i).substr(0, 8));
      digests.push_back(*upstream->AddChunkData(data));
      requests.push_back(MakeChunkRequest(source, digests.back(), kChunkSize));
    }
    ChunkCacheOptions options;
    options.cache_dir = dir;
    options.capacity_bytes = uint64_t{2} * kChunks * kChunkSize;
    cache = *ChunkCache::Open(options);
    for (const ChunkRequest& r : requests) {
      (void)cache->Get(r, absl::Now() + absl::Seconds(60));
    }

    SnapshotName snapshot;
    snapshot.backup_type = "vm";
    snapshot.backup_id = "1";
    snapshot.backup_time = 1700000000;
    std::string index =
        *EncodeFixedIndex(kChunks * kChunkSize, kChunkSize, digests, IndexHeaderFields{});
    ManifestContent manifest{"vm", "1", 1700000000, {}};
    manifest.files.push_back(ManifestFile{"drive-scsi0.img.fidx", CryptMode::kNone,
                                          kChunks * kChunkSize, ChunkIndex::Parse(index)->index_csum()});
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

// Asynchronous lookup of a cached chunk: find, pin, hand back the handle, unpin.
void BM_HitLookupPinUnpin(benchmark::State& state) {
  HitFixture& f = Fixture();
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
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    absl::StatusOr<ChunkHandle> chunk = f.cache->Get(f.requests[i++ % kChunks], deadline);
    benchmark::DoNotOptimize(chunk->data().data());
  }
}
BENCHMARK(BM_HitGet)->Threads(1)->Threads(2)->UseRealTime();

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

}  // namespace
}  // namespace chunkcache

BENCHMARK_MAIN();
