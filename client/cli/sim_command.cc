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
#include "cache/trace/concurrent_restores.h"
#include "cache/trace/live_restore_mix.h"
#include "cache/trace/optimal_replay.h"
#include "cache/trace/policy_replay.h"
#include "cache/trace/qemu_live_restore.h"
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

namespace {

CopyAdmission AdmissionOf(const SimOptions& options) {
  return options.copy_as_demand ? CopyAdmission::kDemand : CopyAdmission::kPrefetch;
}

absl::Status RunConcurrentRestores(const SimOptions& options, const std::string& policy,
                                   std::ostream& out) {
  absl::StatusOr<ReplayWorkload> workload =
      TwoConcurrentRestores({.archive_chunks = options.restores_of,
                             .second_start = options.second_start,
                             .second_speed = options.second_speed});
  if (!workload.ok()) return workload.status();
  absl::StatusOr<ReplayResult> result =
      PolicyOnlyReplay(*workload, policy, options.capacity_chunks, AdmissionOf(options));
  if (!result.ok()) return result.status();
  result->readers.resize(2);
  out << absl::StrFormat(
      "first_fetches=%d second_fetches=%d second_fetch_ratio=%.6f archive_chunks=%d\n",
      result->readers[0].misses, result->readers[1].misses,
      static_cast<double>(result->readers[1].misses) / static_cast<double>(options.restores_of),
      options.restores_of);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSim(const SimOptions& options, std::ostream& out) {
  const std::string policy =
      options.policy.empty() ? std::string(DefaultEvictionPolicyName()) : options.policy;
  if (options.restores_of > 0) return RunConcurrentRestores(options, policy, out);
  if (options.trace_path.empty()) {
    return absl::InvalidArgumentError("give a trace (--trace) or an archive (--restores-of)");
  }
  absl::StatusOr<TraceFormat> format = TraceFormatForPath(options.trace_path, options.format);
  if (!format.ok()) return format.status();
  if (options.chunk_size == 0) return absl::InvalidArgumentError("--chunk-size must be > 0");
  absl::StatusOr<std::vector<BlockRequest>> requests =
      ReadBlockTraceFile(options.trace_path, *format);
  if (!requests.ok()) return requests.status();
  if (options.qemu_live_restore) {
    absl::StatusOr<QemuLiveRestore> model =
        ModelQemuLiveRestore(*requests, {.chunk_size = options.chunk_size,
                                         .cluster_size = options.cluster_size,
                                         .copy_step = options.copy_step,
                                         .copy_steps_per_request = options.copy_rate,
                                         .reads_only = options.reads_only});
    if (!model.ok()) return model.status();
    absl::StatusOr<ReplayResult> result =
        PolicyOnlyReplay(model->workload, policy, options.capacity_chunks, AdmissionOf(options));
    if (!result.ok()) return result.status();
    out << absl::StrFormat(
        "miss_ratio=%.6f requests=%d misses=%d copy_requests=%d copy_misses=%d "
        "upstream_fetches=%d disk_chunks=%d\n",
        result->guest.miss_ratio(), result->guest.accesses, result->guest.misses,
        result->copy.accesses, result->copy.misses, result->misses(), model->disk_chunks);
    return absl::OkStatus();
  }
  absl::StatusOr<ChunkAccessTrace> trace = ToChunkAccesses(
      *requests, {.chunk_size = options.chunk_size, .reads_only = options.reads_only});
  if (!trace.ok()) return trace.status();
  const std::vector<ReplayAccess> accesses =
      LiveRestoreMix(*trace, options.live_restore_k, trace->max_chunk, /*finish_copy=*/false);
  absl::StatusOr<ReplayResult> result =
      PolicyOnlyReplay(accesses, policy, options.capacity_chunks, AdmissionOf(options));
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
  auto cluster_size_text = std::make_shared<std::string>("64KiB");
  auto copy_step_text = std::make_shared<std::string>("512KiB");
  CLI::App* sim = app.add_subcommand(
      "sim", "Replay a block trace through an eviction policy and print the miss ratio");
  sim->add_option("--trace", options->trace_path, "Trace file (.vscsi or .csv)");
  sim->add_option("--format", options->format, "vscsi or csv (default: from the extension)")
      ->check(CLI::IsMember({"vscsi", "csv"}));
  sim->add_option("--chunk-size", *chunk_size_text, "Chunk size, e.g. 4MiB, 1MiB or bytes")
      ->capture_default_str();
  sim->add_option("--capacity-chunks", options->capacity_chunks, "Cache capacity in chunks")
      ->capture_default_str();
  std::vector<std::string> names;
  for (std::string_view name : EvictionPolicyNames()) names.emplace_back(name);
  names.emplace_back(kOptimalPolicyName);
  sim->add_option("--policy", options->policy,
                  absl::StrCat("Eviction policy: ", absl::StrJoin(names, ", "), " (default ",
                               ToAbsl(DefaultEvictionPolicyName()), ")"))
      ->check(CLI::IsMember(names));
  sim->add_flag("--reads-only", options->reads_only, "Keep only READ requests");
  sim->add_option("--live-restore-k", options->live_restore_k,
                  "Add a background copy of the whole disk: one chunk per K guest requests");
  sim->add_flag("--copy-as-demand", options->copy_as_demand,
                "The cache sees the copy's reads as ordinary reads, not as prefetches");
  sim->add_flag("--qemu-live-restore", options->qemu_live_restore,
                "Replay qemu's live-restore exactly: block-stream copy plus copy-on-read guest");
  sim->add_option("--cluster-size", *cluster_size_text, "Copy-on-read granularity (qemu model)")
      ->capture_default_str();
  sim->add_option("--copy-step", *copy_step_text, "block-stream piece size (qemu model)")
      ->capture_default_str();
  sim->add_option("--copy-rate", options->copy_rate,
                  "block-stream steps per guest request: the copy's speed (qemu model)")
      ->capture_default_str();
  sim->add_option("--restores-of", options->restores_of,
                  "Instead of a trace: two restores of an archive of this many chunks");
  sim->add_option("--second-start", options->second_start,
                  "Fraction of the archive the first restore has read when the second starts")
      ->capture_default_str();
  sim->add_option("--second-speed", options->second_speed,
                  "The second restore's speed relative to the first")
      ->capture_default_str();
  SetCommandBody(sim, [options, chunk_size_text, cluster_size_text, copy_step_text] {
    for (auto [text, value] : {std::pair{chunk_size_text, &options->chunk_size},
                               std::pair{cluster_size_text, &options->cluster_size},
                               std::pair{copy_step_text, &options->copy_step}}) {
      absl::StatusOr<uint64_t> size = ParseByteSize(*text);
      if (!size.ok()) return size.status();
      *value = *size;
    }
    return RunSim(*options, std::cout);
  });
}

}  // namespace chunkcache
