#include "client/cli/read_command.h"

#include <unistd.h>

#include <memory>
#include <string>

#include "client/cli/byte_size.h"
#include "client/cli/remote_command_body.h"
#include "client/cli/remote_flags.h"
#include "client/lib/chunkcache_client.h"
#include "client/lib/fd_archive_sink.h"

namespace chunkcache {
namespace {

struct ReadFlags {
  RemoteFlags remote;
  std::string offset;
  std::string length;
  std::string max_read = "4MiB";
  bool stream = false;
};

absl::Status RunRead(const ReadFlags& flags) {
  absl::StatusOr<uint64_t> offset = ParseByteSize(flags.offset, "--offset");
  if (!offset.ok()) return offset.status();
  absl::StatusOr<uint64_t> length = ParseByteSize(flags.length, "--length");
  if (!length.ok()) return length.status();
  if (*length == 0) return absl::InvalidArgumentError("--length must be at least 1 byte");
  absl::StatusOr<uint64_t> max_read = ParseByteSize(flags.max_read, "--max-read");
  if (!max_read.ok()) return max_read.status();
  absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags.remote);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags.remote);
  if (!options.ok()) return options.status();
  options->max_read_bytes = *max_read;

  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(*options);
  if (!client.ok()) return client.status();
  // stdout may be a file opened by the shell: write it sequentially, never truncate it.
  absl::StatusOr<std::unique_ptr<FdArchiveSink>> out =
      FdArchiveSink::Create(STDOUT_FILENO, "stdout", /*sequential=*/true);
  if (!out.ok()) return out.status();
  const ByteConsumer to_stdout = [&out](uint64_t, std::string_view bytes) {
    return (*out)->Append(bytes);
  };
  absl::StatusOr<uint64_t> done = flags.stream
                                      ? (*client)->StreamTo(*ref, *offset, *length, to_stdout)
                                      : (*client)->ReadTo(*ref, *offset, *length, to_stdout);
  return done.status();
}

}  // namespace

void RegisterReadCommand(CLI::App& app) {
  auto flags = std::make_shared<ReadFlags>();
  CLI::App* read = app.add_subcommand("read", "Write a byte range of an archive to stdout");
  AddConnectionFlags(read, &flags->remote);
  AddArchiveFlags(read, &flags->remote);
  read->add_option("--offset", flags->offset, "First byte, e.g. 0, 4096, 1GiB")->required();
  read->add_option("--length", flags->length, "Bytes to read, e.g. 4096, 4MiB")->required();
  read->add_option("--max-read", flags->max_read,
                   "Largest ReadRange the server accepts (its max_read_bytes)")
      ->capture_default_str();
  read->add_flag("--stream", flags->stream, "Use one StreamRange call");
  SetRemoteCommandBody(read, [flags] { return RunRead(*flags); });
}

}  // namespace chunkcache
