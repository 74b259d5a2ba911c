// ClientAuthorizer: who is calling, and may they read this datastore and namespace?
//
// Identities come from the `clients` section of the config. A call is identified by its bearer
// token ("authorization: Bearer <token>" metadata; the config holds only the token's SHA-256,
// compared in constant time) or else by the subject of its verified TLS client certificate
// ("CN=node-a,O=example", as gRPC reports it in the AuthContext). Each client has a list of
// `allow` rules: "*" (every datastore), "DATASTORE" (all of it) or "DATASTORE:NS/PREFIX" (that
// namespace and the namespaces below it, matched by whole components).
//
// With no clients configured authorization is off and every call is allowed (the server then
// listens on loopback only unless allow_unauthenticated_remote is set; see ServerSettings).
//
//   absl::StatusOr<ClientAuthorizer> auth = ClientAuthorizer::Create(config.clients(), names);
//   absl::StatusOr<const ClientIdentity*> who = auth->Authenticate(*context);  // UNAUTHENTICATED
//   absl::Status may = auth->Authorize(*who, "store1", snapshot.namespace_components);
//
// Immutable after Create; thread-safe.
#ifndef CHUNKCACHE_SERVICE_CLIENT_AUTHORIZER_H_
#define CHUNKCACHE_SERVICE_CLIENT_AUTHORIZER_H_

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "service/token_hash.h"

namespace chunkcache {

struct AllowRule {
  std::string datastore;                      // "*" for every datastore
  std::vector<std::string> namespace_prefix;  // empty: the whole datastore
};

struct ClientIdentity {
  std::string name;  // for logs
  std::optional<TokenHash> token_sha256;
  std::string cert_subject;
  std::vector<AllowRule> allow;
};

class ClientAuthorizer {
 public:
  // INVALID_ARGUMENT naming the entry for a client without a token or certificate subject,
  // without allow rules, with a malformed hash or rule, or with a rule naming a datastore
  // that is not in `datastore_names`; also for two clients with the same token or subject.
  static absl::StatusOr<ClientAuthorizer> Create(
      const google::protobuf::RepeatedPtrField<v1::ClientConfig>& clients,
      const std::vector<std::string>& datastore_names);

  bool enabled() const { return !clients_.empty(); }
  size_t client_count() const { return clients_.size(); }
  bool uses_tokens() const;
  bool uses_certificates() const;

  // The calling client; nullptr when authorization is off. UNAUTHENTICATED for a call without
  // credentials, with a malformed authorization header, an unknown token or an unknown
  // certificate subject.
  absl::StatusOr<const ClientIdentity*> Authenticate(const grpc::ServerContextBase& context) const;
  // The client whose cert_subject is `subject` (a verified certificate's, RFC 2253 as gRPC
  // writes it; NBD over TLS); nullptr when authorization is off. UNAUTHENTICATED for an empty
  // or unknown subject.
  absl::StatusOr<const ClientIdentity*> AuthenticateSubject(std::string_view subject) const;

  // OK when `client` (nullptr: authorization off) may read `datastore` in that namespace;
  // PERMISSION_DENIED naming the client otherwise.
  absl::Status Authorize(const ClientIdentity* client, std::string_view datastore,
                         const std::vector<std::string>& namespace_components) const;

 private:
  ClientAuthorizer() = default;
  std::vector<ClientIdentity> clients_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CLIENT_AUTHORIZER_H_
