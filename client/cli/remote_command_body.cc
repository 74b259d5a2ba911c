#include "client/cli/remote_command_body.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli/command_status.h"

namespace chunkcache {

absl::Status WithCodeInMessage(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(
      status.code(), absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
}

void SetRemoteCommandBody(CLI::App* command, std::function<absl::Status()> body) {
  SetCommandBody(command, [body = std::move(body)] { return WithCodeInMessage(body()); });
}

}  // namespace chunkcache
