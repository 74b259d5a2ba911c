#include "service/serve_until_signalled.h"

#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "service/chunkcache_server.h"
#include "service/log_setup.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

bool WritePortFile(const std::filesystem::path& path, int grpc_port, int metrics_port,
                   int nbd_port) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "grpc_port=" << grpc_port << "\nmetrics_port=" << metrics_port
        << "\nnbd_port=" << nbd_port << "\n";
    if (!out.flush()) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  return !error;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int ServeUntilSignalled(ServerSettings settings, const std::string& port_file) {
  absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server =
      ChunkCacheServer::Start(std::move(settings));
  if (!server.ok()) {
    spdlog::error("event=startup_failed error={}", LogValue(server.status().message()));
    return 1;
  }
  if (!port_file.empty() && !WritePortFile(port_file, (*server)->grpc_port(),
                                           (*server)->metrics_port(), (*server)->nbd_port())) {
    spdlog::error("event=startup_failed error={}",
                  LogValue(absl::StrCat("cannot write --port-file ", port_file)));
    return 1;
  }
  const sigset_t signals = ShutdownSignals();
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  spdlog::info("event=signal signal={}", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  return 0;
}

}  // namespace chunkcache
