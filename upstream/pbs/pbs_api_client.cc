#include "upstream/pbs/pbs_api_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

constexpr char kReaderProtocol[] = "proxmox-backup-reader-protocol-v1";

// The first line of an error body: PBS answers plain text, sometimes long.
std::string Excerpt(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PbsApiClient>> PbsApiClient::Create(
    const PbsUpstreamOptions& options, PbsUpstreamCounters* counters) {
  if (absl::Status valid = ValidatePbsUpstreamOptions(options); !valid.ok()) return valid;
  absl::StatusOr<PbsEndpoint> endpoint = ParsePbsUrl(options.url, "url");
  if (!endpoint.ok()) return endpoint.status();
  std::string fingerprint;
  if (!options.fingerprint.empty()) {
    absl::StatusOr<std::string> canonical =
        NormalizeFingerprint(options.fingerprint, "fingerprint");
    if (!canonical.ok()) return canonical.status();
    fingerprint = *std::move(canonical);
  }
  absl::StatusOr<std::shared_ptr<TlsClientContext>> tls =
      TlsClientContext::Create(options.ca_pem, fingerprint);
  if (!tls.ok()) return tls.status();
  std::unique_ptr<PbsApiClient> client(
      new PbsApiClient(options, *std::move(endpoint), *std::move(tls), counters));
  PbsApiClient* raw = client.get();
  client->credentials_ = std::make_unique<PbsCredentials>(
      options.auth_id, options.secret, client->endpoint_.HostPort(),
      [raw](const std::string& request, absl::Time deadline) {
        return raw->Send(request, deadline);
      },
      counters);
  return client;
}

PbsApiClient::PbsApiClient(PbsUpstreamOptions options, PbsEndpoint endpoint,
                           std::shared_ptr<TlsClientContext> tls, PbsUpstreamCounters* counters)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      tls_(std::move(tls)),
      counters_(counters),
      description_(absl::StrCat("https://", endpoint_.HostPort(), "/", options_.datastore)) {}

absl::StatusOr<std::unique_ptr<TlsStream>> PbsApiClient::Connect(absl::Time deadline) {
  absl::StatusOr<std::unique_ptr<TlsStream>> stream = TlsStream::Connect(tls_, endpoint_, deadline);
  if (stream.ok() && counters_ != nullptr) counters_->connections.fetch_add(1);
  return stream;
}

absl::StatusOr<Http1Response> PbsApiClient::Send(const std::string& request, absl::Time deadline) {
  absl::StatusOr<std::unique_ptr<TlsStream>> stream = Connect(deadline);
  if (!stream.ok()) return stream.status();
  return Http1Exchange(**stream, request, deadline);
}

absl::Status PbsApiClient::Unauthorized(int status, const std::string& body) const {
  return absl::FailedPreconditionError(
      absl::StrCat(description_, " refused the credentials of ", credentials_->auth_id(), " (HTTP ",
                   status, ": ", Excerpt(body), "); check auth_id and its secret"));
}

absl::StatusOr<Http1Response> PbsApiClient::Get(const std::string& path_and_query,
                                                absl::Time deadline) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> auth = credentials_->HeaderLines(deadline);
    if (!auth.ok()) return auth.status();
    const std::string request =
        absl::StrCat("GET ", path_and_query, " HTTP/1.1\r\nHost: ", endpoint_.HostPort(),
                     "\r\nUser-Agent: chunkcache/1.0\r\nAccept: application/json\r\n", *auth,
                     "Connection: close\r\n\r\n");
    absl::StatusOr<Http1Response> response = Send(request, deadline);
    if (!response.ok()) return response;
    if (response->status == 401) {
      if (attempt == 0 && credentials_->RenewAfterUnauthorized(*auth)) continue;
      return Unauthorized(response->status, response->body);
    }
    return response;
  }
}

absl::StatusOr<std::shared_ptr<H2Connection>> PbsApiClient::OpenReader(const SnapshotName& snapshot,
                                                                       absl::Time deadline) {
  std::string query =
      absl::StrCat("/api2/json/reader?store=", PercentEncodeComponent(options_.datastore),
                   "&backup-type=", PercentEncodeComponent(snapshot.backup_type),
                   "&backup-id=", PercentEncodeComponent(snapshot.backup_id),
                   "&backup-time=", snapshot.backup_time);
  if (!snapshot.namespace_components.empty()) {
    absl::StrAppend(&query, "&ns=", PercentEncodeComponent(snapshot.NamespaceName()));
  }
  const std::string where = absl::StrCat(description_, " snapshot ", snapshot.RelativeDir());
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> auth = credentials_->HeaderLines(deadline);
    if (!auth.ok()) return auth.status();
    absl::StatusOr<std::unique_ptr<TlsStream>> stream = Connect(deadline);
    if (!stream.ok()) return stream.status();
    const std::string request = absl::StrCat(
        "GET ", query, " HTTP/1.1\r\nHost: ", endpoint_.HostPort(),
        "\r\nUser-Agent: chunkcache/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        *auth, "Connection: upgrade\r\nUpgrade: ", kReaderProtocol, "\r\n\r\n");
    absl::StatusOr<Http1Response> response = Http1Exchange(**stream, request, deadline);
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat(where, ": reader upgrade: ", response.status().message()));
    }
    if (response->status == 101) {
      if (counters_ != nullptr) counters_->sessions_opened.fetch_add(1);
      return H2Connection::Start(*std::move(stream), std::move(response->leftover),
                                 options_.max_streams, counters_);
    }
    if (counters_ != nullptr) counters_->upgrade_failures.fetch_add(1);
    if (response->status == 401) {
      // A ticket that expired (or was revoked): log in again, once.
      if (attempt == 0 && credentials_->RenewAfterUnauthorized(*auth)) continue;
      return Unauthorized(response->status, response->body);
    }
    const std::string detail =
        absl::StrCat("reader upgrade: HTTP ", response->status, ": ", Excerpt(response->body));
    if (response->status == 400 || response->status == 404 || response->status == 403) {
      return absl::NotFoundError(absl::StrCat(where, ": ", detail, " (no such snapshot, or ",
                                              credentials_->auth_id(),
                                              " lacks Datastore.Read or Datastore.Backup on it)"));
    }
    return absl::UnavailableError(absl::StrCat(where, ": ", detail));
  }
}

}  // namespace chunkcache
