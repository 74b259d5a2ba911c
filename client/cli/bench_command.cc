#include "client/cli/bench_command.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "client/cli/bench_report.h"
#include "client/cli/byte_size.h"
#include "client/cli/load_generator.h"
#include "client/cli/remote_command_body.h"
#include "client/cli/remote_flags.h"
#include "client/lib/chunkcache_client.h"
#include "client/lib/client_channel.h"

namespace chunkcache {
namespace {

struct BenchFlags {
  RemoteFlags remote;
  int concurrency = 8;
  std::string request_size = "64KiB";
  std::string pattern = "random";
  std::string duration = "10s";
  uint64_t requests = 0;
  std::string rpc = "read";
  uint64_t seed = 1;
  bool json = false;
};

absl::Status RunBench(const BenchFlags& flags) {
  LoadOptions load;
  load.concurrency = flags.concurrency;
  absl::StatusOr<uint64_t> request_size = ParseByteSize(flags.request_size, "--request-size");
  if (!request_size.ok()) return request_size.status();
  if (*request_size == 0) return absl::InvalidArgumentError("--request-size must be at least 1");
  load.request_size = *request_size;
  absl::StatusOr<std::chrono::milliseconds> duration =
      ParseDurationFlag(flags.duration, "--duration");
  if (!duration.ok()) return duration.status();
  load.duration = *duration;
  load.max_requests = flags.requests;
  load.pattern =
      flags.pattern == "sequential" ? AccessPattern::kSequential : AccessPattern::kRandom;
  load.rpc = flags.rpc == "stream" ? BenchRpc::kStreamRange : BenchRpc::kReadRange;
  load.seed = flags.seed;
  absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags.remote);
  if (!ref.ok()) return ref.status();
  load.ref = *std::move(ref);
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags.remote);
  if (!options.ok()) return options.status();
  // A ReadRange longer than the default cap is the user's explicit choice; let the server say
  // whether it accepts it. (StreamRange requests may be of any size.)
  if (load.rpc == BenchRpc::kReadRange) {
    if (load.request_size > static_cast<uint64_t>(kMaxReceiveMessageBytes) / 2) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--request-size: at most %d bytes per ReadRange", kMaxReceiveMessageBytes / 2));
    }
    options->max_read_bytes = std::max(options->max_read_bytes, load.request_size);
  }
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(*options);
  if (!client.ok()) return client.status();

  if (!flags.json) {
    std::printf(
        "bench       %d x %s of %s, %s, for %s%s against %s\n", load.concurrency,
        load.rpc == BenchRpc::kReadRange ? "ReadRange" : "StreamRange",
        FormatBytes(load.request_size).c_str(), flags.pattern.c_str(), flags.duration.c_str(),
        load.max_requests == 0 ? "" : absl::StrFormat(" or %d requests", load.max_requests).c_str(),
        options->server_address.c_str());
    std::fflush(stdout);
  }
  absl::StatusOr<LoadReport> report = RunLoad(**client, load);
  if (!report.ok()) return report.status();
  const std::string text =
      flags.json ? FormatBenchReportJson(*report) : FormatBenchReportText(*report);
  std::fputs(text.c_str(), stdout);
  if (report->requests_failed > 0) {
    // The most frequent error decides the exit code (INVALID_ARGUMENT, e.g. a request size
    // over the server's cap, is a usage error).
    const ErrorTally* most = nullptr;
    for (const auto& [name, tally] : report->errors) {
      if (most == nullptr || tally.count > most->count) most = &tally;
    }
    return absl::Status(
        most->code, absl::StrFormat("%d of %d requests failed, e.g. %s", report->requests_failed,
                                    report->requests_failed + report->requests_ok, most->example));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBenchCommand(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  flags->remote.retries = 0;  // count every failure instead of hiding it behind a retry
  CLI::App* bench = app.add_subcommand("bench", "Load generator: RPS, MB/s and latencies");
  AddConnectionFlags(bench, &flags->remote);
  AddArchiveFlags(bench, &flags->remote);
  bench->add_option("--concurrency", flags->concurrency, "Requests in flight (one thread each)")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxBenchConcurrency));
  bench->add_option("--request-size", flags->request_size, "Bytes per request, e.g. 64KiB, 4MiB")
      ->capture_default_str();
  bench->add_option("--pattern", flags->pattern, "Offsets: random or sequential")
      ->capture_default_str()
      ->check(CLI::IsMember({"random", "sequential"}));
  bench->add_option("--duration", flags->duration, "How long to run, e.g. 10s, 1m")
      ->capture_default_str();
  bench->add_option("--requests", flags->requests, "Stop after this many requests (0: no limit)")
      ->capture_default_str();
  bench->add_option("--rpc", flags->rpc, "read (ReadRange) or stream (StreamRange)")
      ->capture_default_str()
      ->check(CLI::IsMember({"read", "stream"}));
  bench->add_option("--seed", flags->seed, "Seed of the random offsets")->capture_default_str();
  bench->add_flag("--json", flags->json, "Print one JSON object");
  SetRemoteCommandBody(bench, [flags] { return RunBench(*flags); });
}

}  // namespace chunkcache
