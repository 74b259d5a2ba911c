#include "service/datastore_catalog.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "service/log_setup.h"
#include "spdlog/spdlog.h"
#include "upstream/datastore_upstream.h"
#include "upstream/grpc_upstream.h"
#include "upstream/key_source.h"
#include "upstream/pbs/pbs_upstream.h"

namespace chunkcache {

namespace {

// The contents of a credentials file named in the config; `what` names it in errors.
absl::StatusOr<std::string> ReadCredentialFile(const std::filesystem::path& path,
                                               std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || in.bad()) {
    return absl::FailedPreconditionError(
        absl::StrCat(ToAbsl(what), " ", path.string(), ": cannot read it"));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<Upstream>> OpenRemote(const DatastoreSettings& settings) {
  const RemoteDatastoreSettings& remote = *settings.remote;
  GrpcUpstreamOptions options;
  options.target = remote.target;
  options.datastore = remote.datastore;
  options.timeout = remote.timeout;
  if (!remote.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadCredentialFile(remote.token_file, "remote.token_file");
    if (!token.ok()) return token.status();
    // One trailing newline, as `echo` writes it, is not part of the token.
    if (!token->empty() && token->back() == '\n') token->pop_back();
    if (!token->empty() && token->back() == '\r') token->pop_back();
    if (token->empty() || token->find_first_of(" \t\r\n") != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat("remote.token_file ", remote.token_file.string(),
                       ": empty, or holds white space (one token on one line is expected)"));
    }
    options.bearer_token = *std::move(token);
  }
  const std::pair<const std::filesystem::path*, std::string*> pems[] = {
      {&remote.ca_file, &options.ca_pem},
      {&remote.cert_file, &options.cert_pem},
      {&remote.key_file, &options.key_pem}};
  const char* const names[] = {"remote.ca_file", "remote.cert_file", "remote.key_file"};
  for (size_t i = 0; i < 3; ++i) {
    if (pems[i].first->empty()) continue;
    absl::StatusOr<std::string> pem = ReadCredentialFile(*pems[i].first, names[i]);
    if (!pem.ok()) return pem.status();
    *pems[i].second = *std::move(pem);
  }
  absl::StatusOr<std::unique_ptr<GrpcUpstream>> upstream = GrpcUpstream::Create(options);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(*std::move(upstream));
}

absl::StatusOr<std::shared_ptr<Upstream>> OpenPbs(const DatastoreSettings& settings) {
  const PbsDatastoreSettings& pbs = *settings.pbs;
  PbsUpstreamOptions options = pbs.options;
  if (!pbs.secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadCredentialFile(pbs.secret_file, "pbs.secret_file");
    if (!secret.ok()) return secret.status();
    options.secret = *std::move(secret);
  } else {
    const char* value = std::getenv(pbs.secret_env.c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("pbs.secret_env: environment variable ", pbs.secret_env, " is not set"));
    }
    options.secret = value;
  }
  // One trailing newline, as `echo` writes it, is not part of the secret.
  if (!options.secret.empty() && options.secret.back() == '\n') options.secret.pop_back();
  if (!options.secret.empty() && options.secret.back() == '\r') options.secret.pop_back();
  if (options.secret.empty()) {
    return absl::FailedPreconditionError("pbs: the secret (token secret or password) is empty");
  }
  if (!pbs.ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadCredentialFile(pbs.ca_file, "pbs.ca_file");
    if (!pem.ok()) return pem.status();
    options.ca_pem = *std::move(pem);
  }
  absl::StatusOr<std::unique_ptr<PbsUpstream>> upstream = PbsUpstream::Create(options);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(*std::move(upstream));
}

absl::StatusOr<std::shared_ptr<Upstream>> OpenUpstream(const DatastoreSettings& settings) {
  if (settings.remote.has_value()) return OpenRemote(settings);
  if (settings.pbs.has_value()) return OpenPbs(settings);
  absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream =
      DatastoreUpstream::Open(settings.path);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(*std::move(upstream));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DatastoreCatalog>> DatastoreCatalog::Open(
    const std::vector<DatastoreSettings>& datastores) {
  std::vector<CatalogEntry> entries;
  for (const DatastoreSettings& settings : datastores) {
    CatalogEntry entry;
    entry.ref.name = settings.name;
    entry.path = settings.path;
    if (!settings.keyfile.empty()) {
      absl::StatusOr<CryptConfig> key = LoadCryptConfig(settings.keyfile, settings.password);
      if (!key.ok()) {
        return absl::Status(key.status().code(),
                            absl::StrCat("datastore ", settings.name, ": key file ",
                                         settings.keyfile.string(), ": ", key.status().message()));
      }
      entry.key_fingerprint = key->FingerprintText();
      entry.ref.key = std::make_shared<const CryptConfig>(*std::move(key));
    }
    absl::StatusOr<std::shared_ptr<Upstream>> upstream = OpenUpstream(settings);
    if (!upstream.ok()) {
      const std::string where =
          settings.remote.has_value() ? absl::StrCat(" remote ", settings.remote->target)
          : settings.pbs.has_value()  ? absl::StrCat(" pbs ", settings.pbs->options.url)
                                      : absl::StrCat(" at ", settings.path.string());
      return absl::Status(
          upstream.status().code(),
          absl::StrCat("datastore ", settings.name, where, ": ", upstream.status().message()));
    }
    entry.ref.upstream = *std::move(upstream);
    if (settings.wrap_upstream) entry.ref.upstream = settings.wrap_upstream(entry.ref.upstream);
    spdlog::info("event=datastore_opened datastore={} {}={} key_fingerprint={}",
                 LogValue(settings.name),
                 settings.remote.has_value() ? "remote"
                 : settings.pbs.has_value()  ? "pbs"
                                             : "path",
                 LogValue(settings.remote.has_value() || settings.pbs.has_value()
                              ? entry.ref.upstream->Describe()
                              : settings.path.string()),
                 entry.key_fingerprint.empty() ? "none" : entry.key_fingerprint);
    entries.push_back(std::move(entry));
  }
  return std::unique_ptr<DatastoreCatalog>(new DatastoreCatalog(std::move(entries)));
}

const CatalogEntry* DatastoreCatalog::Find(std::string_view name) const {
  for (const CatalogEntry& entry : entries_) {
    if (entry.ref.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace chunkcache
