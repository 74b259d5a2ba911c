// `chunkcache datastore cat`: an archive's logical content to stdout, read straight from a
// datastore directory through the format library (no cache, no service).
//
//   chunkcache datastore cat --path DIR --snapshot SNAP --archive NAME [--keyfile K]
//
// Checks first that the manifest decodes and matches the key and that the index matches the
// manifest; then every chunk is decoded and verified (CRC, crypt mode, digest, length) before
// its bytes are written. A `.blob` archive prints the decoded blob. An encrypted snapshot
// without --keyfile is refused before anything is written. On a bad chunk, output stops there
// and the command fails naming the chunk.
#ifndef CHUNKCACHE_CLIENT_CLI_DATASTORE_CAT_H_
#define CHUNKCACHE_CLIENT_CLI_DATASTORE_CAT_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

// Adds `cat` to the `datastore` command.
void RegisterDatastoreCatCommand(CLI::App& datastore);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_DATASTORE_CAT_H_
