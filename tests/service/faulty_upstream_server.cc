#include "tests/service/faulty_upstream_server.h"

#include <utility>

namespace chunkcache::testing {

absl::StatusOr<std::unique_ptr<ChunkCacheServer>> StartWithFaultyUpstream(
    const v1::Config& config, std::shared_ptr<FaultyUpstream>* faulty,
    const std::function<void(ServerSettings&)>& adjust) {
  absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
  if (!settings.ok()) return settings.status();
  if (adjust) adjust(*settings);
  settings->datastores[0].wrap_upstream = [faulty](std::shared_ptr<Upstream> inner) {
    *faulty = std::make_shared<FaultyUpstream>(std::move(inner));
    return *faulty;
  };
  return ChunkCacheServer::Start(*std::move(settings));
}

}  // namespace chunkcache::testing
