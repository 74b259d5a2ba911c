// An independent client: python_client.py (grpcio, stubs generated from the .proto at test
// time) reads the shared vectors through a real chunkcached, checks health, and uses server
// reflection as grpcurl does (list services, describe ReadRange's input type).
#include <gtest/gtest.h>

#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

TEST(ServicePythonClientTest, GrpcioClientReadsVerifiesAndReflects) {
  // python3-grpcio and python3-grpc-tools are Debian packages for /usr/bin/python3 only.
  const ProcessResult probe =
      RunProcess({"/usr/bin/python3", "-c", "import grpc, grpc_tools.protoc"});
  ASSERT_EQ(probe.exit_code, 0)
      << "/usr/bin/python3 cannot import grpc and grpc_tools (install python3-grpcio and "
         "python3-grpc-tools with scripts/install-deps.sh): "
      << probe.stderr_text;

  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--datastore", "vectors=" + VectorPath("datastore").string(), "--keyfile",
       "vectors=" + VectorPath("keys/key-none.json").string()});
  ASSERT_NE(server, nullptr);
  ScratchDir scratch;
  const ProcessResult run =
      RunProcess({"/usr/bin/python3", (SourceDir() / "tests/service/python_client.py").string(),
                  "--server", server->address(), "--proto-root", (SourceDir() / "proto").string(),
                  "--scratch", scratch.path().string(), "--datastore", "vectors"});
  EXPECT_EQ(run.exit_code, 0) << run.stdout_text << run.stderr_text;
  EXPECT_NE(run.stdout_text.find("all checks passed"), std::string::npos) << run.stdout_text;
  // The checks ran against this server: it answered them.
  EXPECT_GE(server->Metric("chunkcache_requests_total", {{"rpc", "ReadRange"}, {"code", "OK"}})
                .value_or(0),
            8);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
