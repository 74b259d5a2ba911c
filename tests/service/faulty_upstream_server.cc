#include "tests/service/faulty_upstream_server.h"

#include <string>
#include <utility>

#include "tests/service/service_test_env.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {

absl::StatusOr<std::unique_ptr<ChunkCacheServer>> StartWithFaultyUpstream(
    const v1::Config& config, std::shared_ptr<FaultyUpstream>* faulty,
    const std::function<void(ServerSettings&)>& adjust) {
  absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
  if (!settings.ok()) return settings.status();
  if (adjust) adjust(*settings);
  WrapFirstUpstreamInFaulty(*settings, faulty);
  return ChunkCacheServer::Start(*std::move(settings));
}

void WrapFirstUpstreamInFaulty(ServerSettings& settings, std::shared_ptr<FaultyUpstream>* faulty) {
  settings.datastores[0].wrap_upstream = [faulty](std::shared_ptr<Upstream> inner) {
    *faulty = std::make_shared<FaultyUpstream>(std::move(inner));
    return *faulty;
  };
}

v1::Config CreatePoolTestDatastore(const std::filesystem::path& dir) {
  for (const char* snapshot : {kPoolTestOpen, kPoolTestSlow, kPoolTestOther, kPoolTestThird}) {
    const char vm_digit = snapshot[5];  // each image its own bytes
    const std::filesystem::path image = dir / (std::string(1, vm_digit) + ".img");
    WriteFileBytes(image, PseudoRandomBytes(kPoolTestImageBytes, vm_digit));
    CreateArchive(dir / "ds", snapshot, kPoolTestArchive, image);
  }
  v1::Config config;
  v1::DatastoreConfig* store = config.add_datastores();
  store->set_name("store");
  store->set_path((dir / "ds").string());
  config.mutable_cache()->set_dir((dir / "cache").string());
  config.mutable_cache()->set_capacity("64MiB");
  config.mutable_sessions()->set_readahead(false);
  return config;
}

}  // namespace chunkcache::testing
