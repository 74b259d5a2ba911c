#include "client/cli/stat_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "client/cli/remote_command_body.h"
#include "client/cli/remote_flags.h"
#include "client/cli/snapshot_info_format.h"
#include "client/lib/chunkcache_client.h"

namespace chunkcache {
namespace {

struct StatFlags {
  RemoteFlags remote;
  bool json = false;
};

absl::Status RunStat(const StatFlags& flags) {
  absl::StatusOr<v1::SnapshotRef> ref = BuildSnapshotRef(flags.remote);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags.remote);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(*options);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::SnapshotInfo> info = (*client)->Stat(*ref);
  if (!info.ok()) return info.status();
  const std::string text =
      flags.json ? FormatSnapshotInfoJson(*info) : FormatSnapshotInfoText(*info);
  std::fputs(text.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

void RegisterStatCommand(CLI::App& app) {
  auto flags = std::make_shared<StatFlags>();
  CLI::App* stat = app.add_subcommand("stat", "Show what the server knows about an archive");
  AddConnectionFlags(stat, &flags->remote);
  AddArchiveFlags(stat, &flags->remote);
  stat->add_flag("--json", flags->json, "Print one JSON object");
  SetRemoteCommandBody(stat, [flags] { return RunStat(*flags); });
}

}  // namespace chunkcache
