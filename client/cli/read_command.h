// `chunkcache read`: a byte range of a snapshot archive to stdout.
//
//   chunkcache read --server ADDR --datastore NAME --snapshot SNAP --archive NAME
//                   --offset N --length N [--stream] [connection flags, see remote_flags.h]
//
// N is bytes, optionally with a unit (4096, 64KiB, 4MiB). Lengths over the server's
// max_read_bytes (--max-read, default 4MiB) are read as several ReadRange calls, or as one
// StreamRange call with --stream. A range running past the end of the archive prints the bytes
// that exist and succeeds; an offset at or past the end fails with OUT_OF_RANGE.
#ifndef CHUNKCACHE_CLIENT_CLI_READ_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_READ_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterReadCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_READ_COMMAND_H_
