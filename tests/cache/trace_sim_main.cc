// chunkcache_sim: the `chunkcache sim` subcommand alone, for bench/trace_replay.sh when the
// chunkcache CLI is not built. Exit codes as the CLI's: 0 ok, 1 failure, 2 usage error.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "client/cli/sim_command.h"

int main(int argc, char** argv) {
  CLI::App app("chunkcache trace replay", "chunkcache");
  app.require_subcommand(1);
  chunkcache::RegisterSimCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // the subcommand has printed why
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
