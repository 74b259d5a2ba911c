// `chunkcache sim`: replays a block-I/O trace (vscsi or CSV) through an eviction policy as
// chunk accesses and prints the miss ratio.
//
//   chunkcache sim --trace cloudPhysicsIO.vscsi --chunk-size 4MiB --capacity-chunks 64
//       --policy lru [--reads-only] [--live-restore-k 4 [--copy-as-demand]]
//   miss_ratio=0.049000 requests=114848 misses=5628
//
// `requests` counts chunk lookups (a block request crossing a chunk boundary makes two).
// With --live-restore-k K a background copy of the whole disk reads one chunk per K guest
// requests; the printed ratio is the guest's, the copy's follows as copy_*.
//
//   CLI::App app;  RegisterSimCommand(app);  // then app.parse(argc, argv) as usual
#ifndef CHUNKCACHE_CLIENT_CLI_SIM_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_SIM_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chunkcache {

struct SimOptions {
  std::string trace_path;
  std::string format;  // "vscsi", "csv" or "" (by extension)
  uint64_t chunk_size = 4 << 20;
  uint64_t capacity_chunks = 64;
  std::string policy;  // "" = the default policy
  bool reads_only = false;
  uint64_t live_restore_k = 0;  // 0 = no background copy
  bool copy_as_demand = false;
};

// Adds the `sim` subcommand. A failure is printed as "chunkcache: <message>" and ends parsing
// with CLI::RuntimeError (exit 2 for INVALID_ARGUMENT, else 1; command_status.h).
void RegisterSimCommand(CLI::App& app);

// Runs a simulation and writes its result line to `out`.
absl::Status RunSim(const SimOptions& options, std::ostream& out);

// "4194304", "4MiB", "1mib", "512KiB", "2GiB" (binary units; "K", "M", "G" alike).
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_SIM_COMMAND_H_
