// chunkcache: the command-line tool. Each subcommand group registers itself here; the
// registration functions live in client/cli/<group>_command.h.
//
// Exit codes: 0 success, 1 the operation failed or found problems, 2 usage error. Errors go to
// stderr as "chunkcache: <message>".
#include <cstdio>
#include <exception>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli/bench_command.h"
#include "client/cli/command_status.h"
#include "client/cli/datastore_command.h"
#include "client/cli/health_command.h"
#include "client/cli/key_command.h"
#include "client/cli/read_command.h"
#include "client/cli/restore_command.h"
#include "client/cli/sim_command.h"
#include "client/cli/stat_command.h"

int main(int argc, char** argv) {
  CLI::App app{"chunkcache: tools for the shared PBS chunk cache and PBS datastores", "chunkcache"};
  app.require_subcommand(1);
  chunkcache::RegisterKeyCommand(app);
  chunkcache::RegisterDatastoreCommand(app);
  chunkcache::RegisterReadCommand(app);
  chunkcache::RegisterRestoreCommand(app);
  chunkcache::RegisterStatCommand(app);
  chunkcache::RegisterHealthCommand(app);
  chunkcache::RegisterBenchCommand(app);
  chunkcache::RegisterSimCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a subcommand failed and has said why
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e);  // --help
    }
    std::fprintf(stderr, "chunkcache: %s\nRun with --help for usage.\n", e.what());
    return chunkcache::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chunkcache: unexpected error: %s\n", e.what());
    return chunkcache::kExitFailure;
  }
  return chunkcache::kExitOk;
}
