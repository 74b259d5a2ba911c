// chunkcache_sim: the `chunkcache sim` subcommand alone, for bench/trace_replay.sh when the
// chunkcache CLI is not built.
#include "CLI/CLI.hpp"
#include "client/cli/sim_command.h"

int main(int argc, char** argv) {
  CLI::App app("chunkcache trace replay");
  app.require_subcommand(1);
  chunkcache::RegisterSimCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
