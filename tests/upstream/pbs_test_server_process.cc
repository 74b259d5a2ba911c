#include "tests/upstream/pbs_test_server_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chunkcache::testing {
namespace {

// The control endpoint's answer to a POST of `body`: its HTTP status, 0 on failure.
int PostToControl(int port, const std::string& path, const std::string& body) {
  int status = 0;
  HttpPostJson(port, path, body, &status);
  return status;
}

int ReadPortFile(const std::filesystem::path& path) {
  int port = 0;
  std::error_code error;
  if (std::filesystem::file_size(path, error) == 0 || error) return 0;
  std::string text = ReadFileBytes(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return absl::SimpleAtoi(text, &port) ? port : 0;
}

}  // namespace

std::filesystem::path PbsTestServerScript() {
  return std::filesystem::path(CHUNKCACHE_SOURCE_DIR) / "tests" / "pbs" / "pbs_test_server.py";
}

std::unique_ptr<PbsTestServerProcess> PbsTestServerProcess::Start(
    const PbsTestServerOptions& options) {
  std::unique_ptr<PbsTestServerProcess> server(new PbsTestServerProcess());
  const std::filesystem::path dir = server->scratch_.path();
  ProcessResult cert =
      RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj", "/CN=pbs-test",
                  "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
                  (dir / "key.pem").string(), "-out", (dir / "cert.pem").string()});
  if (cert.exit_code != 0) {
    ADD_FAILURE() << "openssl req failed: " << cert.stderr_text;
    return nullptr;
  }
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   PbsTestServerScript().string(),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--port-file",
                                   (dir / "port").string(),
                                   "--control-port-file",
                                   (dir / "control-port").string(),
                                   "--cert",
                                   (dir / "cert.pem").string(),
                                   "--key",
                                   (dir / "key.pem").string()};
  for (const auto& [name, path] : options.datastores) {
    argv.insert(argv.end(), {"--datastore", name + "=" + path.string()});
  }
  for (const std::string& token : options.tokens) argv.insert(argv.end(), {"--token", token});
  for (const std::string& password : options.passwords) {
    argv.insert(argv.end(), {"--password", password});
  }
  if (options.max_concurrent_streams > 0) {
    argv.insert(argv.end(),
                {"--max-concurrent-streams", std::to_string(options.max_concurrent_streams)});
  }
  if (options.ticket_lifetime_seconds > 0) {
    argv.insert(argv.end(), {"--ticket-lifetime", std::to_string(options.ticket_lifetime_seconds)});
  }
  server->argv_ = std::move(argv);
  if (!server->Launch()) return nullptr;
  const nlohmann::json stats = server->Stats();
  if (!stats.is_object() || !stats.contains("fingerprint")) {
    ADD_FAILURE() << "no /stats from the test PBS server: " << server->Stderr();
    return nullptr;
  }
  server->fingerprint_ = stats["fingerprint"].get<std::string>();
  return server;
}

PbsTestServerProcess::~PbsTestServerProcess() {
  if (process_ != nullptr) process_->Stop(SIGTERM, std::chrono::seconds(10));
}

bool PbsTestServerProcess::Launch() {
  const std::filesystem::path dir = scratch_.path();
  std::filesystem::remove(dir / "port");
  std::filesystem::remove(dir / "control-port");
  process_ = BackgroundProcess::Start(argv_);
  if (process_ == nullptr) {
    ADD_FAILURE() << "cannot start " << PbsTestServerScript();
    return false;
  }
  port_ = 0;
  control_port_ = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    port_ = ReadPortFile(dir / "port");
    control_port_ = ReadPortFile(dir / "control-port");
    if (port_ > 0 && control_port_ > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (port_ == 0 || control_port_ == 0) {
    ADD_FAILURE() << "the test PBS server did not come up: " << Stderr();
    return false;
  }
  return true;
}

bool PbsTestServerProcess::Restart() {
  Kill();
  // The same TLS port (asyncio listens with SO_REUSEADDR) and certificate, fresh state.
  const int port = port_;
  for (size_t i = 0; i + 1 < argv_.size(); ++i) {
    if (argv_[i] == "--listen") argv_[i + 1] = absl::StrCat("127.0.0.1:", port);
  }
  if (!Launch()) return false;
  if (port_ != port) {
    ADD_FAILURE() << "the test PBS server came back on port " << port_ << ", not " << port;
    return false;
  }
  return true;
}

void PbsTestServerProcess::Kill() {
  if (process_ != nullptr) process_->Stop(SIGKILL, std::chrono::seconds(10));
}

std::string PbsTestServerProcess::cert_pem() const {
  return ReadFileBytes(scratch_.path() / "cert.pem");
}

nlohmann::json PbsTestServerProcess::Stats() const {
  int status = 0;
  const std::string body = HttpGet(control_port_, "/stats", &status);
  if (status != 200) return nullptr;
  return nlohmann::json::parse(body, nullptr, false);
}

bool PbsTestServerProcess::SetFaults(const nlohmann::json& faults) const {
  return PostToControl(control_port_, "/faults", faults.dump()) == 200;
}

bool PbsTestServerProcess::ResetFaults() const {
  return PostToControl(control_port_, "/reset", "{}") == 200;
}

}  // namespace chunkcache::testing
