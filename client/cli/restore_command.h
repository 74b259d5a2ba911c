// `chunkcache restore`: a whole snapshot archive into a file or block device.
//
//   chunkcache restore --server ADDR --datastore NAME --snapshot SNAP --archive NAME
//                      --out FILE|DEVICE|- [--sha256] [--in-flight N] [--request-size 4MiB]
//                      [--stream] [--no-progress] [connection flags, see remote_flags.h]
//
// The archive is read with N ReadRange calls in flight (default 8), reassembled in order, or
// with one StreamRange call (--stream). A regular file is written sparse (zero blocks become
// holes); a block device gets every byte; "-" writes to stdout. On a terminal, stderr shows a
// progress line (bytes, throughput, ETA) and a summary. --sha256 prints the SHA-256 of what was
// written as sha256sum does ("HEX  FILE"; on stderr when the data went to stdout). A file this
// command created is removed again when the restore fails.
#ifndef CHUNKCACHE_CLIENT_CLI_RESTORE_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_RESTORE_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterRestoreCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_RESTORE_COMMAND_H_
