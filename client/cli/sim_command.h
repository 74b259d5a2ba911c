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
// --qemu-live-restore replays qemu's live-restore exactly (cache/trace/qemu_live_restore.h:
// block-stream in --copy-step pieces at --copy-rate steps per guest request, copy-on-read at
// --cluster-size, nothing read from the backup twice) and adds upstream_fetches (guest +
// copy misses, the restore's cost) to the guest's figures (guest misses: its latency):
//
//   chunkcache sim --trace T --reads-only --qemu-live-restore --copy-rate 1 --policy index
//   miss_ratio=0.069187 requests=12459 misses=862 copy_requests=62731 copy_misses=7758
//       upstream_fetches=8620 disk_chunks=8008
//
// --restores-of N replays two restores of an N-chunk archive, the second started when the
// first is --second-start through, at --second-speed times its speed
// (cache/trace/concurrent_restores.h), and prints each one's upstream fetches:
//
//   chunkcache sim --restores-of 1000 --second-start 0.6 --capacity-chunks 500 --policy index
//   first_fetches=1000 second_fetches=200 second_fetch_ratio=0.200000 archive_chunks=1000
//
// --policy opt replays Belady's OPT (cache/trace/optimal_replay.h) on any of these.
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
  // The exact qemu live-restore model instead of the mix above.
  bool qemu_live_restore = false;
  uint64_t cluster_size = 64 << 10;
  uint64_t copy_step = 512 << 10;
  double copy_rate = 1;  // copy steps per guest request
  // Two restores of an archive of this many chunks instead of a trace (0 = off).
  uint64_t restores_of = 0;
  double second_start = 0.25;
  double second_speed = 1;
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
