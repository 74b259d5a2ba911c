// PbsTestServerProcess: the test PBS server (tests/pbs/pbs_test_server.py: real TLS, real
// HTTP/2, the reader protocol) run as a black box for the pbs upstream's tests: a self-signed
// certificate for 127.0.0.1, the datastores and credentials given, and its control endpoint
// (POST /faults, POST /reset, GET /stats).
//
//   std::unique_ptr<PbsTestServerProcess> pbs = PbsTestServerProcess::Start(
//       {.datastores = {{"store1", dir}}, .tokens = {"restore@pbs!node:s3cret"}});
//   options.url = pbs->url();
//   options.fingerprint = pbs->fingerprint();
//   pbs->SetFaults({{"drop_connection_after_chunks", 3}});
//   pbs->Restart();   // a crash and restart on the same port
//   EXPECT_EQ(pbs->Stats()["chunk_requests"], 4);
#ifndef CHUNKCACHE_TESTS_UPSTREAM_PBS_TEST_SERVER_PROCESS_H_
#define CHUNKCACHE_TESTS_UPSTREAM_PBS_TEST_SERVER_PROCESS_H_

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {

inline constexpr char kPbsTestToken[] = "restore@pbs!node1:0f1e2d3c-aaaa-bbbb-cccc-s3cret";
inline constexpr char kPbsTestTokenId[] = "restore@pbs!node1";
inline constexpr char kPbsTestTokenSecret[] = "0f1e2d3c-aaaa-bbbb-cccc-s3cret";

struct PbsTestServerOptions {
  std::vector<std::pair<std::string, std::filesystem::path>> datastores;  // name, directory
  std::vector<std::string> tokens = {kPbsTestToken};  // "user@realm!name:secret"
  std::vector<std::string> passwords;                 // "user@realm:password"
  int max_concurrent_streams = 0;                     // 0: the server's default
  int ticket_lifetime_seconds = 0;                    // 0: the server's default
};

class PbsTestServerProcess {
 public:
  // Fails the test and returns null when the server does not come up.
  static std::unique_ptr<PbsTestServerProcess> Start(const PbsTestServerOptions& options);
  ~PbsTestServerProcess();

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& fingerprint() const { return fingerprint_; }  // "aa:bb:..."
  std::string cert_pem() const;

  nlohmann::json Stats() const;                        // GET /stats (null json on failure)
  bool SetFaults(const nlohmann::json& faults) const;  // POST /faults
  bool ResetFaults() const;                            // POST /reset
  std::string Stderr() const { return process_ ? process_->Stderr() : ""; }
  void Kill();  // SIGKILL, as a crash
  // Kill, then start again on the same TLS port with the same certificate, datastores and
  // credentials (faults, tickets and counters start afresh). False (and a test failure) when
  // it does not come back on that port.
  bool Restart();

 private:
  PbsTestServerProcess() = default;
  bool Launch();  // starts argv_ and waits for the port files
  ScratchDir scratch_;
  std::unique_ptr<BackgroundProcess> process_;
  int port_ = 0;
  int control_port_ = 0;
  std::string fingerprint_;
  std::vector<std::string> argv_;
};

// tests/pbs/pbs_test_server.py in the source tree.
std::filesystem::path PbsTestServerScript();

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_UPSTREAM_PBS_TEST_SERVER_PROCESS_H_
