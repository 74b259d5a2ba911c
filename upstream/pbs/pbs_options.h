// PbsUpstreamOptions: how chunkcache reaches one datastore of a Proxmox Backup Server over its
// reader protocol (HTTPS + HTTP/2, shared/spec/pbs-reader-protocol.md), and the checks that
// turn a configured URL, auth id and fingerprint into validated values.
//
//   PbsUpstreamOptions options;
//   options.url = "https://pbs.example:8007";
//   options.datastore = "store1";
//   options.auth_id = "restore@pbs!node1";   // an API token; "user@realm" logs in with tickets
//   options.secret = ReadFile("/etc/chunkcache/pbs-token");  // never logged
//   options.fingerprint = "aa:bb:...";       // pin the leaf certificate, or set ca_pem
//   absl::StatusOr<std::unique_ptr<PbsUpstream>> upstream = PbsUpstream::Create(options);
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_OPTIONS_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chunkcache {

inline constexpr uint16_t kDefaultPbsPort = 8007;
// The QEMU restore fetches 16 chunks at once, a PBS sync job 20; PBS 4 allows 200 streams.
inline constexpr int kDefaultPbsMaxStreams = 64;
inline constexpr int kDefaultPbsMaxSessions = 16;

struct PbsUpstreamOptions {
  std::string url;          // "https://host[:port]"; the port defaults to 8007
  std::string datastore;    // the datastore's name on the server
  std::string auth_id;      // "user@realm!tokenname" (API token) or "user@realm" (password)
  std::string secret;       // the token secret or the password; never logged
  std::string fingerprint;  // SHA-256 of the server's leaf certificate, "aa:bb:..." (any case)
  std::string ca_pem;       // PEM CAs that sign the server's chain; empty: the system's CAs
  // Bound for connecting, the upgrade and one request, and for all the retries of one read:
  // a read that cannot complete within it fails (UNAVAILABLE or DEADLINE_EXCEEDED).
  absl::Duration timeout = absl::Seconds(30);
  int max_streams = kDefaultPbsMaxStreams;    // chunk requests in flight per connection
  int max_sessions = kDefaultPbsMaxSessions;  // reader sessions (connections) open at once
  // A reader session nobody used for this long is closed (its snapshot reopens on demand).
  absl::Duration session_idle_timeout = absl::Minutes(5);
  // How long a CheckReadable answer is reused.
  absl::Duration health_cache = absl::Seconds(5);
};

// Where a PBS server listens, from its URL.
struct PbsEndpoint {
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  uint16_t port = kDefaultPbsPort;

  std::string HostPort() const;  // "host:8007", "[::1]:8007"
};

// "https://host[:port][/]" -> endpoint. Anything else (http://, a path, user info, a query) is
// INVALID_ARGUMENT naming `field`.
absl::StatusOr<PbsEndpoint> ParsePbsUrl(std::string_view url, std::string_view field);

// A fingerprint as 32 hex pairs, with or without ':' separators, in any case -> the canonical
// lowercase "aa:bb:..." form PBS shows. INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<std::string> NormalizeFingerprint(std::string_view fingerprint,
                                                 std::string_view field);

// "user@realm" or "user@realm!token": INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidatePbsAuthId(std::string_view auth_id, std::string_view field);

// True for an API token id ("user@realm!token"), false for a user ("user@realm").
inline bool IsApiTokenId(std::string_view auth_id) {
  return auth_id.find('!') != std::string_view::npos;
}

// Checks every field of `options` (URL, names, fingerprint, bounds): what Create refuses.
absl::Status ValidatePbsUpstreamOptions(const PbsUpstreamOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_OPTIONS_H_
