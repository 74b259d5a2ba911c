// How a `chunkcache` subcommand ends: its exit code and its error line.
//
//   SetCommandBody(create, [options] { return RunDatastoreCreate(*options); });
//
// A body returns an absl::Status. OK exits 0; INVALID_ARGUMENT (a bad name or a wrong
// combination of options: a usage error) exits 2; anything else exits 1. A failure is printed to
// stderr as "chunkcache: <message>". Exceptions thrown inside a body (CLI11, nlohmann) are
// caught and reported as failures; none escapes main.
#ifndef CHUNKCACHE_CLIENT_CLI_COMMAND_STATUS_H_
#define CHUNKCACHE_CLIENT_CLI_COMMAND_STATUS_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace chunkcache {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int ExitCodeFor(const absl::Status& status);

// Writes "chunkcache: <message>" and a newline to stderr.
void PrintError(const absl::Status& status);

// Makes `body` the action of `command`. After parsing, a failing body's status is printed and
// parsing ends with CLI::RuntimeError(exit code), which main turns into the process exit code.
void SetCommandBody(CLI::App* command, std::function<absl::Status()> body);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_COMMAND_STATUS_H_
