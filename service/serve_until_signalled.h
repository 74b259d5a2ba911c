// How chunkcached serves, shared with the benchmark servers built on the same library
// (bench/throttled_server.cc): start the server, tell the port file where it listens, wait for
// SIGTERM or SIGINT, shut down gracefully.
//
//   BlockShutdownSignals();   // before any other thread starts: threads inherit the mask
//   ...                       // parse flags, set up logging, resolve settings
//   return ServeUntilSignalled(*std::move(settings), flags.port_file);
//
// The port file ("grpc_port=N\nmetrics_port=M\n", metrics_port 0 without /metrics) is written
// atomically (a temporary file, then rename), so a reader never sees half of it.
#ifndef CHUNKCACHE_SERVICE_SERVE_UNTIL_SIGNALLED_H_
#define CHUNKCACHE_SERVICE_SERVE_UNTIL_SIGNALLED_H_

#include <string>

#include "service/server_settings.h"

namespace chunkcache {

// Blocks SIGTERM and SIGINT in the calling thread, so that they reach only the sigwait in
// ServeUntilSignalled.
void BlockShutdownSignals();

// Returns the process exit code: 0 after a clean shutdown, 1 when the server cannot start or
// the port file cannot be written (both logged as event=startup_failed).
int ServeUntilSignalled(ServerSettings settings, const std::string& port_file);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_SERVE_UNTIL_SIGNALLED_H_
