// NbdSettings: the `nbd` section of the config resolved and checked — where the NBD server
// listens, the export names it lists, and the security rule it shares with the gRPC side
// (without client authentication only loopback or a unix socket, unless
// allow_unauthenticated_remote). TLS is the gRPC side's (ServerSettings::tls): when it is
// configured NBD clients must use it (NBD_OPT_STARTTLS).
//
//   absl::StatusOr<std::optional<NbdSettings>> nbd = ResolveNbdSettings(config, settings);
//   if (nbd->has_value()) ...;   // nullopt: nbd.listen unset, no NBD server
#ifndef CHUNKCACHE_SERVICE_NBD_SETTINGS_H_
#define CHUNKCACHE_SERVICE_NBD_SETTINGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"
#include "service/listen_address.h"

namespace chunkcache {

struct ServerSettings;

inline constexpr int kDefaultNbdPort = 10809;
// The largest read an NBD client may send (NBD_INFO_BLOCK_SIZE maximum): max_read_bytes, but
// at most what clients assume without asking (32 MiB).
inline constexpr uint64_t kLargestNbdBlockSize = uint64_t{32} << 20;

struct NbdSettings {
  ListenAddress listen;
  std::vector<std::string> exports;  // checked export names
  bool allow_unauthenticated_remote = false;
};

// INVALID_ARGUMENT naming the field: a malformed address or export name, an export of a
// datastore that is not configured, a remote address without client authentication (TLS
// with client certificates) or allow_unauthenticated_remote, or clients[] configured without
// tls.client_ca_file (NBD clients authenticate only by certificate).
absl::StatusOr<std::optional<NbdSettings>> ResolveNbdSettings(const v1::Config& config,
                                                              const ServerSettings& settings);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_NBD_SETTINGS_H_
