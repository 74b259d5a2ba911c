#include "service/nbd_settings.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "nbd/export_name.h"
#include "service/server_settings.h"

namespace chunkcache {

absl::StatusOr<std::optional<NbdSettings>> ResolveNbdSettings(const v1::Config& config,
                                                              const ServerSettings& settings) {
  const v1::NbdConfig& nbd = config.nbd();
  if (nbd.listen().empty()) {
    if (nbd.exports_size() > 0) {
      return absl::InvalidArgumentError("nbd.exports: set nbd.listen to serve NBD");
    }
    return std::nullopt;
  }
  NbdSettings resolved;
  std::string text = nbd.listen();
  // "HOST" alone means the NBD port (IANA-assigned 10809).
  const bool has_port =
      text.substr(0, 5) == "unix:" || (text.rfind(':') != std::string::npos &&
                                       (text.front() != '[' || text.rfind(':') > text.rfind(']')));
  if (!has_port) text = absl::StrCat(text, ":", kDefaultNbdPort);
  absl::StatusOr<ListenAddress> listen =
      ParseListenAddress(text, "nbd.listen", /*allow_unix_socket=*/true);
  if (!listen.ok()) return listen.status();
  resolved.listen = *std::move(listen);
  resolved.allow_unauthenticated_remote = nbd.allow_unauthenticated_remote();

  // NBD clients authenticate only by TLS client certificate (NBD_OPT_STARTTLS): bearer tokens
  // have no place in the protocol.
  const bool clients_configured = settings.authorizer != nullptr && settings.authorizer->enabled();
  if (clients_configured && !settings.tls.verifies_clients()) {
    return absl::InvalidArgumentError(
        "nbd.listen: clients[] are configured, and NBD clients can only authenticate with a TLS "
        "client certificate: set tls.cert_file, tls.key_file and tls.client_ca_file (and "
        "cert_subject on the clients that use NBD)");
  }
  const bool authenticated = settings.tls.enabled() && settings.clients_authenticated();
  if (!resolved.listen.loopback() && !authenticated && !resolved.allow_unauthenticated_remote) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nbd.listen: ", resolved.listen.text,
        " is reachable from other machines but NBD clients are not authenticated (clients[] "
        "with cert_subject, or tls.require_client_cert); listen on 127.0.0.1 or a unix socket, "
        "or set nbd.allow_unauthenticated_remote"));
  }

  const std::vector<std::string> datastores = settings.datastore_names();
  for (int i = 0; i < nbd.exports_size(); ++i) {
    const std::string& name = nbd.exports(i);
    absl::StatusOr<nbd::ExportName> parsed = nbd::ParseExportName(name);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nbd.exports[", i, "]: ", parsed.status().message()));
    }
    if (absl::Status valid = ValidateDatastoreName(parsed->datastore, "nbd.exports datastore");
        !valid.ok()) {
      return valid;
    }
    if (std::find(datastores.begin(), datastores.end(), parsed->datastore) == datastores.end()) {
      return absl::InvalidArgumentError(absl::StrCat("nbd.exports[", i, "]: datastore '",
                                                     parsed->datastore, "' is not configured"));
    }
    resolved.exports.push_back(name);
  }
  return resolved;
}

}  // namespace chunkcache
