// `chunkcache health`: asks a chunkcached server's grpc.health.v1 service how it is, for
// container health checks and scripts (Debian ships no gRPC health probe).
//
//   chunkcache health --server ADDR [--service NAME] [--tls --ca FILE --cert F --key F]
//                     [--token-file F | --token-env V] [--deadline 5s]
//
// Prints the serving status (SERVING, NOT_SERVING, ...) and exits 0 only for SERVING; 1 for
// any other status or when the server cannot be reached. --service "" (the default) is the
// whole server: SERVING while every datastore is readable. --service liveness is SERVING
// while the process runs and is not shutting down, whatever its datastores do.
#ifndef CHUNKCACHE_CLIENT_CLI_HEALTH_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_HEALTH_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterHealthCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_HEALTH_COMMAND_H_
