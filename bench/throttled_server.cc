// throttled_server: chunkcached with a FaultyUpstream (upstream/faulty_upstream.h) in front of
// every datastore, for benchmarks that need a far-away backup server: added latency per
// upstream call and a bandwidth cap shared by all calls. Every chunkcached flag works as in
// chunkcached (the config file too); these are added:
//
//   throttled_server --datastore store=/var/tmp/store --cache-dir /var/tmp/cc --listen 127.0.0.1:0
//       --port-file ports --upstream-latency-ms 20 --upstream-bandwidth 128MiB
//       [--max-concurrent-fetches 1] [--readahead-max-chunks 16] [--no-readahead]
//
// --upstream-bandwidth is bytes per second of raw blobs (0: unlimited), without a burst: like
// a link, every call's bytes take bytes / bandwidth after the bytes of the calls before them,
// so one call at a time gets size / (latency + size / bandwidth). The latency is paid by every
// data call (chunk or snapshot file), the cap by the bytes they return. Runs until SIGINT/SIGTERM,
// like chunkcached.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/byte_size.h"
#include "service/command_line.h"
#include "service/log_setup.h"
#include "service/serve_until_signalled.h"
#include "service/server_settings.h"
#include "spdlog/spdlog.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache {
namespace {

struct ThrottleFlags {
  double latency_ms = 0;
  uint64_t bandwidth = 0;
  std::optional<int> max_concurrent_fetches;
  std::optional<size_t> readahead_max_chunks;
};

// Takes this binary's own flags out of argv (as "--flag value") and leaves chunkcached's.
std::optional<std::string> TakeThrottleFlags(std::vector<char*>& args, ThrottleFlags* flags) {
  std::vector<char*> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string arg = args[i];
    const bool ours = arg == "--upstream-latency-ms" || arg == "--upstream-bandwidth" ||
                      arg == "--max-concurrent-fetches" || arg == "--readahead-max-chunks";
    if (!ours) {
      rest.push_back(args[i]);
      continue;
    }
    if (i + 1 >= args.size()) return absl::StrCat(arg, " needs a value");
    const std::string value = args[++i];
    if (arg == "--upstream-latency-ms") {
      if (!absl::SimpleAtod(value, &flags->latency_ms)) return absl::StrCat("bad ", arg);
    } else if (arg == "--upstream-bandwidth") {
      absl::StatusOr<uint64_t> bytes = ParseByteSize(value, arg);
      if (!bytes.ok()) return std::string(bytes.status().message());
      flags->bandwidth = *bytes;
    } else if (arg == "--max-concurrent-fetches") {
      int n = 0;
      if (!absl::SimpleAtoi(value, &n) || n < 1) return absl::StrCat("bad ", arg);
      flags->max_concurrent_fetches = n;
    } else {
      size_t n = 0;
      if (!absl::SimpleAtoi(value, &n) || n < 1) return absl::StrCat("bad ", arg);
      flags->readahead_max_chunks = n;
    }
  }
  args = rest;
  return std::nullopt;
}

int Run(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  ThrottleFlags throttle;
  if (std::optional<std::string> error = TakeThrottleFlags(args, &throttle)) {
    std::fprintf(stderr, "throttled_server: %s\n", error->c_str());
    return 2;
  }
  CommandLine flags;
  if (std::optional<int> exit_code =
          ParseCommandLine(static_cast<int>(args.size()), args.data(), &flags)) {
    return *exit_code;
  }
  absl::StatusOr<v1::Config> config = BuildConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "throttled_server: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<ServerSettings> settings = ResolveSettings(*config);
  if (!settings.ok()) {
    std::fprintf(stderr, "throttled_server: %s\n",
                 std::string(settings.status().message()).c_str());
    return 2;
  }
  if (absl::Status logging = ConfigureLogging(settings->log_level); !logging.ok()) return 2;
  if (throttle.max_concurrent_fetches) {
    settings->cache.max_concurrent_fetches = *throttle.max_concurrent_fetches;
  }
  if (throttle.readahead_max_chunks) {
    settings->sessions.readahead.max_window = *throttle.readahead_max_chunks;
  }
  for (DatastoreSettings& datastore : settings->datastores) {
    datastore.wrap_upstream = [throttle](std::shared_ptr<Upstream> inner) {
      auto faulty = std::make_shared<FaultyUpstream>(std::move(inner));
      faulty->SetLatency(absl::Microseconds(static_cast<int64_t>(throttle.latency_ms * 1000)));
      faulty->SetBandwidthLimit(throttle.bandwidth, /*burst_bytes=*/0);
      return faulty;
    };
  }

  BlockShutdownSignals();  // every thread started from here on inherits the mask

  spdlog::info(
      "event=startup pid={} upstream_latency_ms={} upstream_bandwidth={} "
      "max_concurrent_fetches={} readahead_max_chunks={} {}",
      getpid(), throttle.latency_ms, throttle.bandwidth, settings->cache.max_concurrent_fetches,
      settings->sessions.readahead.max_window, settings->Summary());
  return ServeUntilSignalled(*std::move(settings), flags.port_file);
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) { return chunkcache::Run(argc, argv); }
