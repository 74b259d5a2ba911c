// `chunkcache bench`: a load generator against a chunkcached server.
//
//   chunkcache bench --server ADDR --datastore NAME --snapshot SNAP --archive NAME
//                    [--concurrency 8] [--request-size 64KiB] [--pattern random|sequential]
//                    [--duration 10s] [--requests N] [--rpc read|stream] [--seed N] [--json]
//                    [connection flags, see remote_flags.h]
//
// Runs `concurrency` request loops (one thread each, at most 64) for the duration or until N
// requests were started, whichever comes first, then prints requests per second, MB/s,
// p50/p90/p99/max latency and the errors by status code (see bench_report.h). Failed calls are
// not retried unless --retries is given, so every error is counted. Exits non-zero when any
// request failed, with the most frequent error's code (2 for INVALID_ARGUMENT, else 1).
#ifndef CHUNKCACHE_CLIENT_CLI_BENCH_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_BENCH_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterBenchCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_BENCH_COMMAND_H_
