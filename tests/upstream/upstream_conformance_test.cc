// Runs the Upstream conformance suite against every implementation in upstream/.
#include "tests/upstream/upstream_conformance.h"

#include <filesystem>
#include <memory>

#include "upstream/datastore_upstream.h"
#include "upstream/faulty_upstream.h"
#include "upstream/memory_upstream.h"

namespace chunkcache::testing {
namespace {

absl::StatusOr<std::shared_ptr<Upstream>> MakeDatastore(const UpstreamFixture& fixture,
                                                        const std::filesystem::path& scratch) {
  const std::filesystem::path dir = scratch / "datastore";
  absl::Status written = WriteFixtureDatastore(fixture, dir);
  if (!written.ok()) return written;
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream = DatastoreUpstream::Open(dir);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(std::move(*upstream));
}

absl::StatusOr<std::shared_ptr<Upstream>> MakeMemory(const UpstreamFixture& fixture,
                                                     const std::filesystem::path&) {
  absl::StatusOr<std::shared_ptr<MemoryUpstream>> upstream = MakeMemoryUpstreamWith(fixture);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(*upstream);
}

absl::StatusOr<std::shared_ptr<Upstream>> MakeFaultyOverMemory(
    const UpstreamFixture& fixture, const std::filesystem::path& scratch) {
  absl::StatusOr<std::shared_ptr<Upstream>> inner = MakeMemory(fixture, scratch);
  if (!inner.ok()) return inner.status();
  return std::shared_ptr<Upstream>(std::make_shared<FaultyUpstream>(*inner));
}

INSTANTIATE_TEST_SUITE_P(Upstreams, UpstreamConformanceTest,
                         ::testing::Values(UpstreamImplementation{"datastore", MakeDatastore},
                                           UpstreamImplementation{"memory", MakeMemory},
                                           UpstreamImplementation{"faulty_memory",
                                                                  MakeFaultyOverMemory}),
                         UpstreamImplementationName);

}  // namespace
}  // namespace chunkcache::testing
