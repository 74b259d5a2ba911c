#include "client/cli/command_status.h"

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

namespace chunkcache {

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (absl::IsInvalidArgument(status)) return kExitUsage;
  return kExitFailure;
}

void PrintError(const absl::Status& status) {
  const std::string message(status.message());
  std::fprintf(stderr, "chunkcache: %s\n", message.c_str());
  std::fflush(stderr);
}

void SetCommandBody(CLI::App* command, std::function<absl::Status()> body) {
  command->callback([body = std::move(body)] {
    absl::Status status;
    try {
      status = body();
    } catch (const std::exception& e) {
      status = absl::InternalError(std::string("unexpected error: ") + e.what());
    }
    std::fflush(stdout);
    if (status.ok()) return;
    PrintError(status);
    throw CLI::RuntimeError(ExitCodeFor(status));
  });
}

}  // namespace chunkcache
