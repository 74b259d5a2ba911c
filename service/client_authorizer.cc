#include "service/client_authorizer.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "format/snapshot_name.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr std::string_view kBearerPrefix = "Bearer ";

std::string ToString(grpc::string_ref ref) { return std::string(ref.data(), ref.size()); }

absl::StatusOr<AllowRule> ParseAllowRule(std::string_view text, std::string_view field,
                                         const std::vector<std::string>& datastore_names) {
  AllowRule rule;
  const size_t colon = text.find(':');
  rule.datastore = std::string(text.substr(0, colon));
  if (rule.datastore.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(field), ": '", ToAbsl(text),
        "' names no datastore; write \"*\", \"DATASTORE\" or \"DATASTORE:NAMESPACE\""));
  }
  if (rule.datastore != "*" && std::find(datastore_names.begin(), datastore_names.end(),
                                         rule.datastore) == datastore_names.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), ": datastore '", rule.datastore, "' is not configured"));
  }
  if (colon != std::string_view::npos) {
    absl::StatusOr<std::vector<std::string>> ns = ParseNamespaceName(text.substr(colon + 1));
    if (!ns.ok() || ns->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          ToAbsl(field), ": '", ToAbsl(text.substr(colon + 1)), "' is not a namespace name",
          ns.ok() ? "" : absl::StrCat(" (", ns.status().message(), ")")));
    }
    rule.namespace_prefix = *std::move(ns);
  }
  return rule;
}

bool RuleAllows(const AllowRule& rule, std::string_view datastore,
                const std::vector<std::string>& namespace_components) {
  if (rule.datastore != "*" && rule.datastore != datastore) return false;
  if (rule.namespace_prefix.size() > namespace_components.size()) return false;
  return std::equal(rule.namespace_prefix.begin(), rule.namespace_prefix.end(),
                    namespace_components.begin());
}

}  // namespace

absl::StatusOr<ClientAuthorizer> ClientAuthorizer::Create(
    const google::protobuf::RepeatedPtrField<v1::ClientConfig>& clients,
    const std::vector<std::string>& datastore_names) {
  ClientAuthorizer authorizer;
  for (int i = 0; i < clients.size(); ++i) {
    const v1::ClientConfig& config = clients[i];
    const std::string field = absl::StrCat("clients[", i, "]");
    ClientIdentity client;
    client.name = config.name().empty() ? field : config.name();
    if (!config.token_sha256().empty()) {
      absl::StatusOr<TokenHash> hash =
          ParseTokenHash(config.token_sha256(), absl::StrCat(field, ".token_sha256"));
      if (!hash.ok()) return hash.status();
      client.token_sha256 = *hash;
    }
    client.cert_subject = config.cert_subject();
    if (!client.token_sha256.has_value() && client.cert_subject.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " (", client.name, "): needs token_sha256 or cert_subject to identify it"));
    }
    if (config.allow().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " (", client.name, "): no allow rules; it could not read anything"));
    }
    for (int j = 0; j < config.allow().size(); ++j) {
      absl::StatusOr<AllowRule> rule =
          ParseAllowRule(config.allow(j), absl::StrCat(field, ".allow[", j, "]"), datastore_names);
      if (!rule.ok()) return rule.status();
      client.allow.push_back(*std::move(rule));
    }
    for (const ClientIdentity& other : authorizer.clients_) {
      if (client.token_sha256.has_value() && other.token_sha256 == client.token_sha256) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " (", client.name, "): same token as ", other.name));
      }
      if (!client.cert_subject.empty() && other.cert_subject == client.cert_subject) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " (", client.name, "): same cert_subject as ", other.name));
      }
    }
    authorizer.clients_.push_back(std::move(client));
  }
  return authorizer;
}

bool ClientAuthorizer::uses_tokens() const {
  return std::any_of(clients_.begin(), clients_.end(),
                     [](const ClientIdentity& c) { return c.token_sha256.has_value(); });
}

bool ClientAuthorizer::uses_certificates() const {
  return std::any_of(clients_.begin(), clients_.end(),
                     [](const ClientIdentity& c) { return !c.cert_subject.empty(); });
}

absl::StatusOr<const ClientIdentity*> ClientAuthorizer::Authenticate(
    const grpc::ServerContextBase& context) const {
  if (!enabled()) return nullptr;
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header != metadata.end()) {
    const std::string value = ToString(header->second);
    if (!absl::StartsWith(value, ToAbsl(kBearerPrefix)) || value.size() == kBearerPrefix.size()) {
      return absl::UnauthenticatedError(
          "malformed authorization metadata; expected \"Bearer <token>\"");
    }
    const TokenHash presented = TokenSha256(std::string_view(value).substr(kBearerPrefix.size()));
    // Compare against every configured token so the time taken does not depend on which one
    // matched.
    const ClientIdentity* match = nullptr;
    for (const ClientIdentity& client : clients_) {
      if (client.token_sha256.has_value() && TokenMatches(presented, *client.token_sha256)) {
        match = &client;
      }
    }
    if (match == nullptr) return absl::UnauthenticatedError("unknown bearer token");
    return match;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& subject :
         auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME)) {
      return AuthenticateSubject(ToString(subject));
    }
  }
  return absl::UnauthenticatedError(
      "this server requires a bearer token (authorization: Bearer <token>) or a configured "
      "client certificate");
}

absl::StatusOr<const ClientIdentity*> ClientAuthorizer::AuthenticateSubject(
    std::string_view subject) const {
  if (!enabled()) return nullptr;
  if (subject.empty()) {
    return absl::UnauthenticatedError(
        "this server requires a client certificate of a configured client");
  }
  for (const ClientIdentity& client : clients_) {
    if (!client.cert_subject.empty() && client.cert_subject == subject) return &client;
  }
  return absl::UnauthenticatedError(absl::StrCat("client certificate subject '", ToAbsl(subject),
                                                 "' is not a configured client"));
}

absl::Status ClientAuthorizer::Authorize(
    const ClientIdentity* client, std::string_view datastore,
    const std::vector<std::string>& namespace_components) const {
  if (!enabled()) return absl::OkStatus();
  if (client == nullptr) return absl::UnauthenticatedError("no client identity");
  for (const AllowRule& rule : client->allow) {
    if (RuleAllows(rule, datastore, namespace_components)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("client ", client->name, " may not read datastore '", ToAbsl(datastore),
                   "' namespace '", absl::StrJoin(namespace_components, "/"), "'"));
}

}  // namespace chunkcache
