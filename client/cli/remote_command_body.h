// How a subcommand that talks to a chunkcached server ends. Like every `chunkcache` command
// (command_status.h): exit 0 on success, 2 for INVALID_ARGUMENT (a usage error, whether the
// CLI or the server found it), 1 otherwise. The error line names the status code, so scripts
// and people can tell "not there" from "try again later":
//
//   chunkcache: NOT_FOUND: StatSnapshot on node1:7000: archive drive-scsi1.img.fidx not found
//
//   SetRemoteCommandBody(stat, [flags] { return RunStat(*flags); });
#ifndef CHUNKCACHE_CLIENT_CLI_REMOTE_COMMAND_BODY_H_
#define CHUNKCACHE_CLIENT_CLI_REMOTE_COMMAND_BODY_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace chunkcache {

// The same code, with the message "<CODE>: <message>" (OK stays OK).
absl::Status WithCodeInMessage(const absl::Status& status);

void SetRemoteCommandBody(CLI::App* command, std::function<absl::Status()> body);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_REMOTE_COMMAND_BODY_H_
