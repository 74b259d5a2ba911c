// `chunkcache datastore …`: tools that work directly on a PBS datastore directory, without the
// service: `create` (datastore_create.h), `verify` (datastore_verify.h), `cat`
// (datastore_cat.h).
#ifndef CHUNKCACHE_CLIENT_CLI_DATASTORE_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_DATASTORE_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterDatastoreCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_DATASTORE_COMMAND_H_
