// `chunkcache stat`: what the server knows about one snapshot archive (StatSnapshot).
//
//   chunkcache stat --server ADDR --datastore NAME --snapshot SNAP --archive NAME [--json]
//                   [--tls --ca FILE --cert FILE --key FILE] [--token-file F | --token-env V]
//                   [--deadline 30s]
//
// Prints size, chunk size and count, distinct and hinted chunks, crypt mode, cached bytes and
// the index checksum, as text or (--json) one JSON object.
#ifndef CHUNKCACHE_CLIENT_CLI_STAT_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_STAT_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterStatCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_STAT_COMMAND_H_
