#include "client/cli/datastore_command.h"

#include "client/cli/datastore_cat.h"
#include "client/cli/datastore_create.h"
#include "client/cli/datastore_verify.h"

namespace chunkcache {

void RegisterDatastoreCommand(CLI::App& app) {
  CLI::App* datastore =
      app.add_subcommand("datastore", "Create, verify and read a PBS datastore directory");
  datastore->require_subcommand(1);
  RegisterDatastoreCreateCommand(*datastore);
  RegisterDatastoreVerifyCommand(*datastore);
  RegisterDatastoreCatCommand(*datastore);
}

}  // namespace chunkcache
