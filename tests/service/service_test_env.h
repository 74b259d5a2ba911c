// Helpers for the chunkcached tests: real processes on loopback (the service, the chunkcache
// CLI, python3, promtool, prometheus), a minimal HTTP GET for /metrics and the Prometheus API,
// and datastores built with `chunkcache datastore create`.
//
//   ScratchDir dir;
//   WriteFileBytes(dir / "disk.img", image);
//   CreateArchive(dir / "ds", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
//                 dir / "disk.img");
//   std::unique_ptr<ChunkcachedProcess> server =
//       ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string()});
//   std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
//   absl::StatusOr<std::string> bytes =
//       client->Read(Ref("store", "vm/100/...", "drive-scsi0.img.fidx"), 0, 4096);
//   EXPECT_EQ(server->Metric("chunkcache_upstream_fetches_total", {{"result", "ok"}}), 1);
//   EXPECT_EQ(server->Stop(SIGTERM), 0);
#ifndef CHUNKCACHE_TESTS_SERVICE_SERVICE_TEST_ENV_H_
#define CHUNKCACHE_TESTS_SERVICE_SERVICE_TEST_ENV_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkcache/v1/chunkcache.pb.h"
#include "client/lib/chunkcache_client.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {

using Labels = std::map<std::string, std::string>;

// build/bin/chunkcached, build/bin/chunkcache, and the source tree (for proto/ and the Python
// client under tests/service/).
std::filesystem::path ChunkcachedBinary();
std::filesystem::path ChunkcacheBinary();
std::filesystem::path SourceDir();

struct RunOptions {
  std::string stdin_text;
  std::chrono::seconds timeout{180};
};

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal; -1 when it could not run
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (a path) to completion. Killed, with exit code 137, after options.timeout.
ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options = {});

// A process running in the background (e.g. prometheus) until Stop.
class BackgroundProcess {
 public:
  // Fails the test and returns null when argv[0] cannot be started.
  static std::unique_ptr<BackgroundProcess> Start(const std::vector<std::string>& argv);
  ~BackgroundProcess();  // SIGKILL if still running

  // Sends `signal` to this process only and waits; the exit code, -1 after a timeout (then
  // it is killed).
  int Stop(int signal, std::chrono::seconds timeout = std::chrono::seconds(60));
  std::string Stderr() const;

 private:
  BackgroundProcess() = default;
  ScratchDir scratch_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A chunkcached process on loopback ports chosen by the kernel.
class ChunkcachedProcess {
 public:
  // Adds --listen 127.0.0.1:0, --metrics-listen 127.0.0.1:0, --port-file and --cache-dir (in a
  // scratch dir) unless `args` sets them; waits until the ports are written. Fails the test
  // and returns null when the server exits or does not come up in time.
  static std::unique_ptr<ChunkcachedProcess> Start(const std::vector<std::string>& args);
  ~ChunkcachedProcess();

  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  int nbd_port() const { return nbd_port_; }  // 0 unless started with --nbd-listen HOST:0
  pid_t pid() const { return pid_; }

  // The /metrics text (fails the test on an HTTP error).
  std::string Metrics() const;
  // The value of one sample: `labels` must all match (others are ignored); nullopt if absent.
  std::optional<double> Metric(std::string_view name, const Labels& labels = {}) const;

  // Sends `signal` and waits for the exit; returns the exit code (128 + signal when killed by
  // one, -1 on timeout, after which the process is killed).
  int Stop(int signal, std::chrono::seconds timeout = std::chrono::seconds(60));
  void SendSignal(int signal);
  // Waits for the exit without signalling; nullopt on timeout.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);
  // Everything the server logged so far.
  std::string Log() const;

 private:
  ChunkcachedProcess() = default;
  ScratchDir scratch_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  int nbd_port_ = 0;
  std::optional<int> exit_code_;
};

// HTTP/1.0 GET on 127.0.0.1:port; the body, with the status code in *status.
std::string HttpGet(int port, const std::string& path_and_query, int* status = nullptr);
// HTTP/1.0 POST of a JSON `body` on 127.0.0.1:port; the response body, with the status code in
// *status (0 when the request failed).
std::string HttpPostJson(int port, const std::string& path, const std::string& body,
                         int* status = nullptr);

// A sample from Prometheus text exposition.
std::optional<double> FindMetric(const std::string& exposition, std::string_view name,
                                 const Labels& labels);

// A TCP port that was free a moment ago (for programs that cannot report the port they got).
int FreeTcpPort();

// Adds an archive to a datastore with `chunkcache datastore create` (fixed index for .fidx
// from an image, dynamic for .didx from a stream); fails the test on error.
void CreateArchive(const std::filesystem::path& datastore, const std::string& snapshot,
                   const std::string& archive, const std::filesystem::path& input,
                   const std::filesystem::path& keyfile = {});
// A new PBS key file (kdf none) from `chunkcache key create`.
void CreateKeyFile(const std::filesystem::path& path);

// SnapshotRef for `snapshot` written as PBS does ("[ns/NS/]TYPE/ID/TIME").
v1::SnapshotRef Ref(const std::string& datastore, const std::string& snapshot,
                    const std::string& archive);

// A client of `address` without retries (tests want to see every status as it is).
std::unique_ptr<ChunkCacheClient> ConnectClient(const std::string& address,
                                                ClientOptions options = {});

// Test certificates made with /usr/bin/openssl (EC P-256, valid two days), as dir/NAME.pem and
// dir/NAME.key. MakeTestCa: a self-signed CA with the subject "/CN=NAME". MakeTestCert: a
// certificate for `subject` ("/O=example/CN=node-a") signed by dir/CA.pem, with `extensions`
// (openssl extfile lines, e.g. "extendedKeyUsage=clientAuth"). Fail the test on error.
void MakeTestCa(const std::filesystem::path& dir, const std::string& name);
void MakeTestCert(const std::filesystem::path& dir, const std::string& ca, const std::string& name,
                  const std::string& subject, const std::string& extensions);

// An insecure channel to `address` on a TCP connection of its own (without a local subchannel
// pool, gRPC shares one connection between channels to the same target, and the server would
// see one client), connected before it is returned. `args` adds channel settings.
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& address,
                                             grpc::ChannelArguments args = {});

std::string Sha256Hex(std::string_view bytes);

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_SERVICE_SERVICE_TEST_ENV_H_
