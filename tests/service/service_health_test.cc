// grpc.health.v1 as container probes see it, through `chunkcache health`: "" and
// "chunkcache.v1.ChunkCache" follow the datastores' readability, "liveness" stays SERVING while
// the process runs. The datastore is a remote one (a second chunkcached as the rack tier), so
// the test can take it away by stopping that process.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

ProcessResult Health(const std::string& address, const std::string& service) {
  return RunProcess({ChunkcacheBinary().string(), "health", "--server", address, "--service",
                     service, "--deadline", "3s"});
}

TEST(ServiceHealthTest, ReadinessFollowsTheDatastoreAndLivenessTheProcess) {
  ScratchDir dir;
  WriteFileBytes(dir / "disk.img", PseudoRandomBytes(1 << 20, 5));
  CreateArchive(dir / "ds", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
                dir / "disk.img");
  std::unique_ptr<ChunkcachedProcess> rack =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string()});
  ASSERT_NE(rack, nullptr);
  WriteFileBytes(dir / "node.json",
                 absl::StrCat(R"({"datastores": [{"name": "store", "remote": {"target": ")",
                              rack->address(), R"(", "timeout_seconds": 2}}]})"));
  std::unique_ptr<ChunkcachedProcess> node =
      ChunkcachedProcess::Start({"--config", (dir / "node.json").string()});
  ASSERT_NE(node, nullptr);

  for (const std::string service : {"", "chunkcache.v1.ChunkCache", "liveness"}) {
    ProcessResult result = Health(node->address(), service);
    EXPECT_EQ(result.exit_code, 0) << "service \"" << service << "\": " << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "SERVING\n");
  }
  ProcessResult unknown = Health(node->address(), "no.such.Service");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.stderr_text.find("NOT_FOUND"), std::string::npos) << unknown.stderr_text;

  // The rack goes away: readiness turns NOT_SERVING at the next check (every 10 s), liveness
  // does not, so a liveness probe does not restart a cache whose storage is briefly away.
  ASSERT_EQ(rack->Stop(SIGTERM), 0) << rack->Log();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  ProcessResult readiness;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    readiness = Health(node->address(), "");
  } while (readiness.exit_code == 0 && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(readiness.exit_code, 1) << readiness.stderr_text;
  EXPECT_EQ(readiness.stdout_text, "NOT_SERVING\n");
  ProcessResult liveness = Health(node->address(), "liveness");
  EXPECT_EQ(liveness.exit_code, 0) << liveness.stderr_text;
  EXPECT_EQ(liveness.stdout_text, "SERVING\n");

  EXPECT_EQ(node->Stop(SIGTERM), 0) << node->Log();
  ProcessResult gone = Health(node->address(), "liveness");
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.stderr_text.find("UNAVAILABLE"), std::string::npos) << gone.stderr_text;
}

}  // namespace
}  // namespace chunkcache::testing
