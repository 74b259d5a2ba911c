#include "client/cli/sim_command.h"

#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cache/eviction_policy.h"
#include "cache/trace/chunk_accesses.h"
#include "cache/trace/live_restore_mix.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/trace_file.h"
#include "client/cli/command_status.h"
#include "format/string_view_compat.h"

namespace chunkcache {

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(text)));
  size_t digits = 0;
  while (digits < lower.size() && absl::ascii_isdigit(static_cast<unsigned char>(lower[digits]))) {
    ++digits;
  }
  uint64_t value = 0;
  if (digits == 0 || !absl::SimpleAtoi(absl::string_view(lower).substr(0, digits), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", ToAbsl(text), "' is not a size: use bytes or a binary unit, e.g. 4MiB"));
  }
  const absl::string_view unit = absl::string_view(lower).substr(digits);
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gib") {
    shift = 30;
  } else if (unit == "t" || unit == "tib") {
    shift = 40;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(text), "' has an unknown unit '",
                                                   unit, "': use B, KiB, MiB, GiB or TiB"));
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(text), "' is too large"));
  }
  return value << shift;
}

absl::Status RunSim(const SimOptions& options, std::ostream& out) {
  absl::StatusOr<TraceFormat> format = TraceFormatForPath(options.trace_path, options.format);
  if (!format.ok()) return format.status();
  if (options.chunk_size == 0) return absl::InvalidArgumentError("--chunk-size must be > 0");
  absl::StatusOr<std::vector<BlockRequest>> requests =
      ReadBlockTraceFile(options.trace_path, *format);
  if (!requests.ok()) return requests.status();
  absl::StatusOr<ChunkAccessTrace> trace = ToChunkAccesses(
      *requests, {.chunk_size = options.chunk_size, .reads_only = options.reads_only});
  if (!trace.ok()) return trace.status();
  const std::string policy =
      options.policy.empty() ? std::string(DefaultEvictionPolicyName()) : options.policy;
  const std::vector<ReplayAccess> accesses =
      LiveRestoreMix(*trace, options.live_restore_k, trace->max_chunk, /*finish_copy=*/false);
  absl::StatusOr<ReplayResult> result =
      PolicyOnlyReplay(accesses, policy, options.capacity_chunks,
                       options.copy_as_demand ? CopyAdmission::kDemand : CopyAdmission::kPrefetch);
  if (!result.ok()) return result.status();
  out << absl::StrFormat("miss_ratio=%.6f requests=%d misses=%d", result->guest.miss_ratio(),
                         result->guest.accesses, result->guest.misses);
  if (options.live_restore_k > 0) {
    out << absl::StrFormat(" copy_requests=%d copy_misses=%d", result->copy.accesses,
                           result->copy.misses);
  }
  out << "\n";
  return absl::OkStatus();
}

void RegisterSimCommand(CLI::App& app) {
  auto options = std::make_shared<SimOptions>();
  auto chunk_size_text = std::make_shared<std::string>("4MiB");
  CLI::App* sim = app.add_subcommand(
      "sim", "Replay a block trace through an eviction policy and print the miss ratio");
  sim->add_option("--trace", options->trace_path, "Trace file (.vscsi or .csv)")->required();
  sim->add_option("--format", options->format, "vscsi or csv (default: from the extension)")
      ->check(CLI::IsMember({"vscsi", "csv"}));
  sim->add_option("--chunk-size", *chunk_size_text, "Chunk size, e.g. 4MiB, 1MiB or bytes")
      ->capture_default_str();
  sim->add_option("--capacity-chunks", options->capacity_chunks, "Cache capacity in chunks")
      ->capture_default_str();
  std::vector<std::string> names;
  for (std::string_view name : EvictionPolicyNames()) names.emplace_back(name);
  sim->add_option("--policy", options->policy,
                  absl::StrCat("Eviction policy: ", absl::StrJoin(names, ", "), " (default ",
                               ToAbsl(DefaultEvictionPolicyName()), ")"))
      ->check(CLI::IsMember(names));
  sim->add_flag("--reads-only", options->reads_only, "Keep only READ requests");
  sim->add_option("--live-restore-k", options->live_restore_k,
                  "Add a background copy of the whole disk: one chunk per K guest requests");
  sim->add_flag("--copy-as-demand", options->copy_as_demand,
                "The cache sees the copy's reads as ordinary reads, not as prefetches");
  SetCommandBody(sim, [options, chunk_size_text] {
    absl::StatusOr<uint64_t> chunk_size = ParseByteSize(*chunk_size_text);
    if (!chunk_size.ok()) return chunk_size.status();
    options->chunk_size = *chunk_size;
    return RunSim(*options, std::cout);
  });
}

}  // namespace chunkcache
