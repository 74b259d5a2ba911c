#include "client/cli/health_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli/remote_command_body.h"
#include "client/cli/remote_flags.h"
#include "client/lib/chunkcache_client.h"

namespace chunkcache {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

struct HealthFlags {
  RemoteFlags remote;
  std::string service;
};

absl::Status RunHealth(HealthFlags flags) {
  flags.remote.retries = 0;  // the state now, not after a retry loop
  absl::StatusOr<ClientOptions> options = BuildClientOptions(flags.remote);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(*options);
  if (!client.ok()) return client.status();
  absl::StatusOr<ServingStatus> status = (*client)->CheckHealth(flags.service);
  if (!status.ok()) return status.status();
  const std::string& name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status);
  std::printf("%s\n", name.c_str());
  if (*status == grpc::health::v1::HealthCheckResponse::SERVING) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "service \"", flags.service, "\" on ", flags.remote.server, " is ", name));
}

}  // namespace

void RegisterHealthCommand(CLI::App& app) {
  auto flags = std::make_shared<HealthFlags>();
  flags->remote.deadline = "5s";
  CLI::App* health =
      app.add_subcommand("health", "Check a server's gRPC health (exit 0 only when SERVING)");
  AddConnectionFlags(health, &flags->remote);
  health->add_option("--service", flags->service,
                     "Health service name: \"\" (datastores readable) or \"liveness\"");
  SetRemoteCommandBody(health, [flags] { return RunHealth(*flags); });
}

}  // namespace chunkcache
