// A chunkcached server started inside the test process whose first datastore reads through a
// FaultyUpstream, so that a test can hold, fail or count its upstream calls while it talks to
// the server over gRPC or NBD like any client.
//
//   std::shared_ptr<FaultyUpstream> faulty;
//   absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server =
//       StartWithFaultyUpstream(config, &faulty);
//   faulty->HoldCalls();
#ifndef CHUNKCACHE_TESTS_SERVICE_FAULTY_UPSTREAM_SERVER_H_
#define CHUNKCACHE_TESTS_SERVICE_FAULTY_UPSTREAM_SERVER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"
#include "service/chunkcache_server.h"
#include "service/server_settings.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache::testing {

// Makes the first datastore of `settings` read through a FaultyUpstream: `*faulty` is set to
// it when the datastore's upstream is created; it must outlive whatever uses the settings.
void WrapFirstUpstreamInFaulty(ServerSettings& settings, std::shared_ptr<FaultyUpstream>* faulty);

// Resolves `config`, lets `adjust` (if any) change the settings (e.g. a manual clock), and
// starts the server. `*faulty` is set to the wrapper of the first datastore's upstream when
// the server creates it; it must outlive the server.
absl::StatusOr<std::unique_ptr<ChunkCacheServer>> StartWithFaultyUpstream(
    const v1::Config& config, std::shared_ptr<FaultyUpstream>* faulty,
    const std::function<void(ServerSettings&)>& adjust = nullptr);

// The datastore of the open-pool tests (service_upstream_pool_test, archive_opener_test):
// "store", four one-chunk archives: one the tests open before they hold the upstream, one whose
// open they hold, one that queues behind it, and a third other one.
inline constexpr char kPoolTestArchive[] = "drive-scsi0.img.fidx";
inline constexpr char kPoolTestOpen[] = "vm/100/2026-01-01T00:00:00Z";
inline constexpr char kPoolTestSlow[] = "vm/101/2026-01-01T00:00:00Z";
inline constexpr char kPoolTestOther[] = "vm/102/2026-01-01T00:00:00Z";
inline constexpr char kPoolTestThird[] = "vm/103/2026-01-01T00:00:00Z";
inline constexpr uint64_t kPoolTestImageBytes = 64 << 10;  // one short chunk

// Creates the four archives in `dir`/ds, and returns a config that serves them as "store" with
// a small cache in `dir`/cache and no readahead (so that the upstream's calls are the tests').
v1::Config CreatePoolTestDatastore(const std::filesystem::path& dir);

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_SERVICE_FAULTY_UPSTREAM_SERVER_H_
