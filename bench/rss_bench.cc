// rss_bench: anonymous memory of a process holding a small vs a large chunk cache.
//
// Chunk bytes live in the cache's file-backed arena (page cache, counted as RssFile), so the
// process's anonymous memory (RssAnon: heap, stacks) must not grow with the cache. Each size
// runs in a fresh child process: it opens a cache in <dir>, fills it with distinct 4 MiB
// chunks from a synthetic upstream, and reports /proc/self/status. The parent prints both and
// the RssAnon ratio, and exits non-zero if the ratio exceeds 1.2.
//
// It also prints the heap the fill added (glibc mallinfo2 uordblks after the fill minus before
// it; allocations large enough to be mmap'd are not counted, so this is the small-object heap:
// entries, indexes, policy nodes) and, from the two sizes, the heap per additional cached entry.
//
//   build/bin/rss_bench [--dir /var/tmp] [--small-mib 256] [--large-mib 8192] [--policy lru]
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "format/blob.h"
#include "format/digest.h"
#include "upstream/upstream.h"

namespace chunkcache {
namespace {

constexpr uint64_t kChunkSize = 4 << 20;

// Chunk i: 4 MiB of zeros with i in its first 8 bytes. Blobs are encoded on demand into a
// per-thread buffer, so the upstream itself holds no chunk data.
class SyntheticUpstream final : public Upstream {
 public:
  explicit SyntheticUpstream(uint32_t chunks) {
    std::string data(kChunkSize, '\0');
    for (uint32_t i = 0; i < chunks; ++i) {
      std::memcpy(data.data(), &i, sizeof(i));
      index_of_.emplace(Sha256(data), i);
      digests_.push_back(Sha256(data));
    }
  }
  const std::vector<ChunkDigest>& digests() const { return digests_; }

  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& = {}) override {
    auto it = index_of_.find(digest);
    if (it == index_of_.end()) return absl::NotFoundError("no such chunk");
    thread_local std::string data(kChunkSize, '\0');
    std::memcpy(data.data(), &it->second, sizeof(it->second));
    return EncodeBlob(data, BlobEncodeOptions{});
  }
  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName&, std::string_view) override {
    return absl::NotFoundError("synthetic upstream has no snapshots");
  }
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override {
    return std::vector<SnapshotName>{};
  }
  absl::Status CheckReadable() override { return absl::OkStatus(); }
  std::string Describe() const override { return "synthetic"; }

 private:
  absl::flat_hash_map<ChunkDigest, uint32_t> index_of_;
  std::vector<ChunkDigest> digests_;
};

struct Measurement {
  uint64_t cached_bytes = 0;
  uint64_t rss_anon_kib = 0;
  uint64_t rss_file_kib = 0;
  uint64_t rss_shmem_kib = 0;
  uint64_t entries = 0;     // chunks resident after the fill
  int64_t heap_growth = 0;  // mallinfo2 uordblks after the fill minus before it
  double fill_seconds = 0;
};

uint64_t StatusField(const std::string& status, const std::string& name) {
  // Lines look like "RssAnon:\t    1234 kB".
  const size_t at = status.find("\n" + name + ":");
  if (at == std::string::npos) return 0;
  size_t pos = at + name.size() + 2;
  while (pos < status.size() && (status[pos] == ' ' || status[pos] == '\t')) ++pos;
  const size_t end = status.find(' ', pos);
  uint64_t kib = 0;
  if (!absl::SimpleAtoi(status.substr(pos, end - pos), &kib)) return 0;
  return kib;
}

// In the child: fill a cache of `bytes` and measure.
int MeasureChild(const std::filesystem::path& dir, uint64_t bytes, const std::string& policy,
                 int out_fd) {
  const uint32_t chunks = static_cast<uint32_t>(bytes / kChunkSize);
  auto upstream = std::make_shared<SyntheticUpstream>(chunks);
  auto source = std::make_shared<const ChunkSource>(ChunkSource{"synthetic", upstream});
  ChunkCacheOptions options;
  options.cache_dir = dir;
  options.capacity_bytes = bytes;
  options.max_concurrent_fetches = 2;
  options.policy = policy;
  absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(options);
  if (!cache.ok()) {
    std::fprintf(stderr, "cannot open cache in %s: %s\n", dir.c_str(),
                 std::string(cache.status().message()).c_str());
    return 1;
  }
  const int64_t heap_before = static_cast<int64_t>(mallinfo2().uordblks);
  const absl::Time start = absl::Now();
  std::vector<std::thread> fillers;
  for (int t = 0; t < 2; ++t) {
    fillers.emplace_back([&, t] {
      for (uint32_t i = static_cast<uint32_t>(t); i < chunks; i += 2) {
        absl::StatusOr<ChunkHandle> chunk = (*cache)->Get(
            MakeChunkRequest(source, upstream->digests()[i], kChunkSize), absl::InfiniteFuture());
        if (!chunk.ok()) {
          std::fprintf(stderr, "fill failed: %s\n", std::string(chunk.status().message()).c_str());
          std::exit(1);
        }
      }
    });
  }
  for (std::thread& t : fillers) t.join();
  Measurement m;
  m.fill_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const CacheStats stats = (*cache)->Stats();
  m.heap_growth = static_cast<int64_t>(mallinfo2().uordblks) - heap_before;
  m.cached_bytes = stats.arena.used_bytes;
  m.entries = stats.entries;
  std::ifstream file("/proc/self/status");
  std::string status((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  m.rss_anon_kib = StatusField(status, "RssAnon");
  m.rss_file_kib = StatusField(status, "RssFile");
  m.rss_shmem_kib = StatusField(status, "RssShmem");
  return write(out_fd, &m, sizeof(m)) == sizeof(m) ? 0 : 1;
}

bool Measure(const std::filesystem::path& base, uint64_t bytes, const std::string& policy,
             Measurement* out) {
  const std::filesystem::path dir =
      base / absl::StrCat("chunkcache-rss-bench-", getpid(), "-", bytes >> 20);
  std::filesystem::create_directories(dir);
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    _exit(MeasureChild(dir, bytes, policy, fds[1]));
  }
  close(fds[1]);
  const bool got = read(fds[0], out, sizeof(*out)) == sizeof(*out);
  close(fds[0]);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  std::filesystem::remove_all(dir);
  return got && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) {
  std::filesystem::path dir = "/var/tmp";
  uint64_t small_mib = 256;
  uint64_t large_mib = 8192;
  std::string policy;  // empty: the cache's default
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--small-mib" && absl::SimpleAtoi(argv[i + 1], &small_mib)) {
    } else if (flag == "--large-mib" && absl::SimpleAtoi(argv[i + 1], &large_mib)) {
    } else if (flag == "--policy") {
      policy = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--dir DIR] [--small-mib N] [--large-mib N] [--policy NAME]\n",
                   argv[0]);
      return 2;
    }
  }
  chunkcache::Measurement small;
  chunkcache::Measurement large;
  if (!chunkcache::Measure(dir, small_mib << 20, policy, &small) ||
      !chunkcache::Measure(dir, large_mib << 20, policy, &large)) {
    std::fprintf(stderr, "measurement failed\n");
    return 1;
  }
  std::printf("policy: %s\n\n", policy.empty() ? "(default)" : policy.c_str());
  std::printf(
      "| cached chunks | entries | RssAnon | RssFile | RssShmem | heap growth | fill time |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const chunkcache::Measurement* m : {&small, &large}) {
    std::printf("| %.2f GiB | %llu | %.1f MiB | %.1f MiB | %.1f MiB | %.1f KiB | %.1f s |\n",
                m->cached_bytes / double(1 << 30), static_cast<unsigned long long>(m->entries),
                m->rss_anon_kib / 1024.0, m->rss_file_kib / 1024.0, m->rss_shmem_kib / 1024.0,
                m->heap_growth / 1024.0, m->fill_seconds);
  }
  if (large.entries > small.entries) {
    std::printf(
        "\nHeap per additional cached entry: %.0f bytes\n",
        double(large.heap_growth - small.heap_growth) / double(large.entries - small.entries));
  }
  const double ratio = double(large.rss_anon_kib) / double(small.rss_anon_kib);
  std::printf("\nRssAnon ratio (%llu MiB cached / %llu MiB cached): %.3f (target <= 1.2)\n",
              static_cast<unsigned long long>(large_mib),
              static_cast<unsigned long long>(small_mib), ratio);
  return ratio <= 1.2 ? 0 : 1;
}
