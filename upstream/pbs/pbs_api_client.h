// PbsApiClient: the HTTP/1.1 side of one PBS server for one configured datastore: JSON API
// calls (each on its own TLS connection, authenticated, one renewal of a ticket after a 401)
// and the reader upgrade that opens an HTTP/2 reader session for one snapshot (spec §3).
//
//   PbsApiClient api(endpoint, tls, credentials, options, &counters);
//   absl::StatusOr<Http1Response> version = api.Call("GET", "/api2/json/version", deadline);
//   absl::StatusOr<std::shared_ptr<H2Connection>> session = api.OpenReader(snapshot, deadline);
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_API_CLIENT_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_API_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "format/snapshot_name.h"
#include "upstream/pbs/h2_connection.h"
#include "upstream/pbs/http1_exchange.h"
#include "upstream/pbs/pbs_counters.h"
#include "upstream/pbs/pbs_credentials.h"
#include "upstream/pbs/pbs_options.h"
#include "upstream/pbs/tls_stream.h"

namespace chunkcache {

class PbsApiClient {
 public:
  static absl::StatusOr<std::unique_ptr<PbsApiClient>> Create(const PbsUpstreamOptions& options,
                                                              PbsUpstreamCounters* counters);

  // An authenticated GET of `path_and_query`. A 401 after a fresh login (or with a token) is
  // FAILED_PRECONDITION naming the auth id; other statuses are returned as they are.
  absl::StatusOr<Http1Response> Get(const std::string& path_and_query, absl::Time deadline);

  // A new reader session for `snapshot`: TLS connection, upgrade, HTTP/2. Errors: NOT_FOUND
  // (400/404: no such snapshot, or no privilege, which PBS also answers with 400),
  // FAILED_PRECONDITION (credentials refused, certificate mismatch), UNAVAILABLE (anything
  // transient, e.g. 503 or a lost connection), DEADLINE_EXCEEDED.
  absl::StatusOr<std::shared_ptr<H2Connection>> OpenReader(const SnapshotName& snapshot,
                                                           absl::Time deadline);

  // "https://host:8007/store" for messages.
  const std::string& description() const { return description_; }
  const std::string& auth_id() const { return credentials_->auth_id(); }

 private:
  PbsApiClient(PbsUpstreamOptions options, PbsEndpoint endpoint,
               std::shared_ptr<TlsClientContext> tls, PbsUpstreamCounters* counters);
  // One request on a new connection.
  absl::StatusOr<Http1Response> Send(const std::string& request, absl::Time deadline);
  absl::StatusOr<std::unique_ptr<TlsStream>> Connect(absl::Time deadline);
  absl::Status Unauthorized(int status, const std::string& body) const;

  const PbsUpstreamOptions options_;
  const PbsEndpoint endpoint_;
  const std::shared_ptr<TlsClientContext> tls_;
  PbsUpstreamCounters* const counters_;
  const std::string description_;
  std::unique_ptr<PbsCredentials> credentials_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_API_CLIENT_H_
