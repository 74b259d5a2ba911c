// Helpers for the cache tests: small caches in scratch directories, chunk sources, and
// snapshots (manifest + fixed or dynamic index + chunks) built into a MemoryUpstream.
//
//   ScratchDir dir;
//   auto upstream = std::make_shared<MemoryUpstream>();
//   absl::StatusOr<BuiltSnapshot> snap =
//       AddFixedSnapshot(*upstream, TestSnapshot(1000), "drive-scsi0.img.fidx", image, 65536);
//   auto cache = OpenCache(SmallCacheOptions(dir.path(), 4 << 20));
#ifndef CHUNKCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_
#define CHUNKCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cache/cache_options.h"
#include "cache/chunk_cache.h"
#include "cache/chunk_request.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/digest.h"
#include "format/snapshot_name.h"
#include "upstream/memory_upstream.h"

namespace chunkcache::testing {

// A cache of `capacity` bytes in `dir` with a few fetch workers and the LRU policy.
ChunkCacheOptions SmallCacheOptions(const std::filesystem::path& dir, uint64_t capacity);
// Opens the cache; fails the test (and returns null) on error.
std::unique_ptr<ChunkCache> OpenCache(const ChunkCacheOptions& options);

std::shared_ptr<const ChunkSource> MakeSource(std::shared_ptr<Upstream> upstream,
                                              std::string datastore = "store",
                                              std::shared_ptr<const CryptConfig> key = nullptr,
                                              CryptMode mode = CryptMode::kNone);

// Stores `data` as a compressed chunk (encrypted with `key` if set) and returns its digest.
ChunkDigest AddChunk(MemoryUpstream& upstream, std::string_view data,
                     const CryptConfig* key = nullptr);

// The test key K = 00 01 ... 1f of the shared vectors.
std::shared_ptr<const CryptConfig> TestKey();

// vm/<id>/<time>.
SnapshotName TestSnapshot(int64_t backup_time, std::string backup_id = "100");

struct BuiltSnapshot {
  SnapshotName name;
  std::string archive;
  std::vector<ChunkDigest> digests;  // one per index entry
  std::string index_bytes;
};

// Splits `image` into `chunk_size` chunks (the last may be short), stores the chunks, the
// fixed index and a manifest listing it (crypt mode encrypt when `key` is set).
absl::StatusOr<BuiltSnapshot> AddFixedSnapshot(MemoryUpstream& upstream,
                                               const SnapshotName& snapshot,
                                               std::string_view archive, std::string_view image,
                                               uint64_t chunk_size,
                                               const CryptConfig* key = nullptr);
// Stores `chunks` in order as a dynamic index and its manifest.
absl::StatusOr<BuiltSnapshot> AddDynamicSnapshot(MemoryUpstream& upstream,
                                                 const SnapshotName& snapshot,
                                                 std::string_view archive,
                                                 const std::vector<std::string>& chunks,
                                                 const CryptConfig* key = nullptr);

// Stores a dynamic index of `entries` as given (end offsets and digests, whatever chunks the
// upstream holds) and its manifest: for indexes that do not match their chunks.
absl::Status AddDynamicIndex(MemoryUpstream& upstream, const SnapshotName& snapshot,
                             std::string_view archive, const std::vector<DynamicEntry>& entries);

// Polls `condition` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10));

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_
