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

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"
#include "service/chunkcache_server.h"
#include "service/server_settings.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache::testing {

// Resolves `config`, lets `adjust` (if any) change the settings (e.g. a manual clock), and
// starts the server. `*faulty` is set to the wrapper of the first datastore's upstream when
// the server creates it; it must outlive the server.
absl::StatusOr<std::unique_ptr<ChunkCacheServer>> StartWithFaultyUpstream(
    const v1::Config& config, std::shared_ptr<FaultyUpstream>* faulty,
    const std::function<void(ServerSettings&)>& adjust = nullptr);

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_SERVICE_FAULTY_UPSTREAM_SERVER_H_
