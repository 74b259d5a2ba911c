#include "client/cli/restore_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "client/cli/byte_size.h"
#include "client/cli/progress_meter.h"
#include "client/cli/remote_command_body.h"
#include "client/cli/remote_flags.h"
#include "client/cli/sha256_sink.h"
#include "client/cli/snapshot_ref_parse.h"
#include "client/lib/chunkcache_client.h"
#include "client/lib/fd_archive_sink.h"
#include "upstream/unique_fd.h"

namespace chunkcache {
namespace {

struct RestoreFlags {
  RemoteFlags remote;
  std::string out;
  bool sha256 = false;
  int in_flight = 8;
  std::string request_size = "4MiB";
  bool stream = false;
  bool no_progress = false;
};

// The output descriptor, and whether this command created the file (and may remove it).
struct OutputFile {
  UniqueFd owned;
  int fd = -1;
  bool created = false;
};

absl::StatusOr<OutputFile> OpenOutput(const std::string& path) {
  OutputFile output;
  if (path == "-") {
    output.fd = STDOUT_FILENO;
    return output;
  }
  // O_EXCL first, to know whether a failed restore leaves a file behind that it made.
  output.owned = UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  output.created = output.owned.valid();
  if (!output.owned.valid() && errno == EEXIST) {
    output.owned = UniqueFd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  }
  if (!output.owned.valid()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("--out: cannot open %s for writing: %s", path, std::strerror(errno)));
  }
  output.fd = output.owned.get();
  return output;
}

absl::Status RunRestore(const RestoreFlags& flags) {
  absl::StatusOr<uint64_t> request_size = ParseByteSize(flags.request_size, "--request-size");
  if (!request_size.ok()) return request_size.status();
  if (*request_size == 0) return absl::InvalidArgumentError("--request-size must be at least 1");
  absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags.remote);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags.remote);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(*options);
  if (!client.ok()) return client.status();

  absl::StatusOr<OutputFile> output = OpenOutput(flags.out);
  if (!output.ok()) return output.status();
  const bool to_stdout = flags.out == "-";
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> file_sink =
      FdArchiveSink::Create(output->fd, to_stdout ? "stdout" : flags.out, to_stdout);
  if (!file_sink.ok()) return file_sink.status();
  Sha256Sink hashing_sink(**file_sink);
  ArchiveSink& sink = flags.sha256 ? static_cast<ArchiveSink&>(hashing_sink) : **file_sink;

  const bool on_terminal = !flags.no_progress && ::isatty(STDERR_FILENO) == 1;
  ProgressMeter meter(stderr, on_terminal);
  StreamArchiveOptions stream_options;
  stream_options.max_in_flight = flags.in_flight;
  stream_options.request_size = *request_size;
  stream_options.use_stream_range = flags.stream;
  stream_options.on_progress = [&meter](uint64_t done, uint64_t total) {
    meter.Update(done, total);
  };
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<StreamArchiveResult> result = (*client)->StreamArchive(*ref, sink, stream_options);
  meter.Finish();
  if (!result.ok()) {
    if (output->created) ::unlink(flags.out.c_str());
    return absl::Status(
        result.status().code(),
        absl::StrFormat("restoring %s: %s", DescribeSnapshotRef(*ref), result.status().message()));
  }
  if (on_terminal) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "restored %s to %s in %.1f s (%s, %s left as holes, %d retries)\n",
                 FormatBytes(result->bytes).c_str(), to_stdout ? "stdout" : flags.out.c_str(),
                 seconds, FormatRate(seconds > 0 ? result->bytes / seconds : 0).c_str(),
                 FormatBytes((*file_sink)->bytes_skipped()).c_str(),
                 static_cast<int>(result->retries));
  }
  if (flags.sha256) {
    std::fprintf(to_stdout ? stderr : stdout, "%s  %s\n", hashing_sink.HexDigest().c_str(),
                 to_stdout ? "-" : flags.out.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterRestoreCommand(CLI::App& app) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* restore =
      app.add_subcommand("restore", "Write a whole archive to a file or block device");
  AddConnectionFlags(restore, &flags->remote);
  AddArchiveFlags(restore, &flags->remote);
  restore->add_option("--out", flags->out, "Output file, block device, or - for stdout")
      ->required();
  restore->add_flag("--sha256", flags->sha256, "Print the SHA-256 of what was written");
  restore->add_option("--in-flight", flags->in_flight, "ReadRange calls in flight at once")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxInFlight));
  restore
      ->add_option("--request-size", flags->request_size,
                   "Bytes per ReadRange call (at most the server's max_read_bytes)")
      ->capture_default_str();
  restore->add_flag("--stream", flags->stream, "Use one StreamRange call instead of ReadRange");
  restore->add_flag("--no-progress", flags->no_progress, "No progress line on a terminal");
  SetRemoteCommandBody(restore, [flags] { return RunRestore(*flags); });
}

}  // namespace chunkcache
