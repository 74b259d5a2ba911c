#include "upstream/pbs/pbs_upstream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "upstream/datastore_paths.h"
#include "upstream/pbs/http1_exchange.h"

namespace chunkcache {
namespace {

// The `data` array of a PBS JSON answer.
absl::StatusOr<nlohmann::json> DataArray(const Http1Response& response, std::string_view what,
                                         const std::string& where) {
  if (response.status != 200) {
    return absl::UnavailableError(absl::StrCat(
        where, ": ", ToAbsl(what), ": HTTP ", response.status, ": ", response.body.substr(0, 200)));
  }
  nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("data") ||
      !json["data"].is_array()) {
    return absl::UnavailableError(
        absl::StrCat(where, ": ", ToAbsl(what), ": the answer holds no data array"));
  }
  return std::move(json["data"]);
}

// A finished snapshot has a manifest; PBS lists unfinished ones too.
bool HasManifest(const nlohmann::json& entry) {
  if (!entry.contains("files") || !entry["files"].is_array()) return true;
  for (const nlohmann::json& file : entry["files"]) {
    if (file.is_string() && file.get<std::string>() == "index.json.blob") return true;
    if (file.is_object() && file.contains("filename") && file["filename"].is_string() &&
        file["filename"].get<std::string>() == "index.json.blob") {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PbsUpstream>> PbsUpstream::Create(
    const PbsUpstreamOptions& options) {
  auto counters = std::make_unique<PbsUpstreamCounters>();
  absl::StatusOr<std::unique_ptr<PbsApiClient>> api = PbsApiClient::Create(options, counters.get());
  if (!api.ok()) return api.status();
  std::unique_ptr<PbsUpstream> upstream(new PbsUpstream(options, std::move(counters)));
  upstream->api_ = *std::move(api);
  return upstream;
}

PbsUpstream::PbsUpstream(PbsUpstreamOptions options, std::unique_ptr<PbsUpstreamCounters> counters)
    : options_(std::move(options)), counters_(std::move(counters)) {}

std::shared_ptr<PbsReaderSession> PbsUpstream::SessionFor(const SnapshotName& snapshot) {
  const std::string key = snapshot.RelativeDir();
  std::vector<std::shared_ptr<PbsReaderSession>> closed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->first != key && now - it->second->last_used() > options_.session_idle_timeout) {
      closed.push_back(std::move(it->second));
      sessions_.erase(it++);
    } else {
      ++it;
    }
  }
  auto found = sessions_.find(key);
  if (found == sessions_.end()) {
    while (sessions_.size() >= static_cast<size_t>(options_.max_sessions)) {
      auto oldest =
          std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
            return a.second->last_used() < b.second->last_used();
          });
      closed.push_back(std::move(oldest->second));
      sessions_.erase(oldest);
    }
    found = sessions_
                .emplace(key, std::make_shared<PbsReaderSession>(api_.get(), snapshot,
                                                                 options_.timeout, counters_.get()))
                .first;
  }
  counters_->sessions_open.store(static_cast<int64_t>(sessions_.size()));
  return found->second;
}

std::shared_ptr<PbsReaderSession> PbsUpstream::SessionReferencing(const ChunkDigest& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, session] : sessions_) {
    if (session->References(digest)) return session;
  }
  return nullptr;
}

absl::StatusOr<std::string> PbsUpstream::ReadSnapshotFile(const SnapshotName& snapshot,
                                                          std::string_view file_name) {
  if (absl::Status valid = ValidateSnapshotFileName(file_name); !valid.ok()) return valid;
  if (absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(snapshot); !dir.ok()) {
    return dir.status();
  }
  return SessionFor(snapshot)->Download(std::string(file_name), absl::Now() + options_.timeout);
}

absl::StatusOr<std::string> PbsUpstream::ReadChunk(const ChunkDigest& digest,
                                                   const ChunkReadOptions& options) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  if (options.snapshot.has_value()) {
    if (absl::StatusOr<std::vector<std::string>> dir = SnapshotDirComponents(*options.snapshot);
        !dir.ok()) {
      return dir.status();
    }
    if (!options.archive.empty()) {
      if (absl::Status valid = ValidateArchiveName(options.archive); !valid.ok()) return valid;
    }
    return SessionFor(*options.snapshot)->ReadChunk(digest, options.archive, deadline);
  }
  std::shared_ptr<PbsReaderSession> session = SessionReferencing(digest);
  if (session == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), ": chunk ", digest.Hex(),
        " was asked for without a snapshot, and no open snapshot references it (a PBS server "
        "serves chunks only for a snapshot whose index names them)"));
  }
  return session->ReadChunk(digest, "", deadline);
}

absl::StatusOr<std::vector<std::string>> PbsUpstream::ListNamespaces(absl::Time deadline) {
  absl::StatusOr<Http1Response> response = api_->Get(
      absl::StrCat("/api2/json/admin/datastore/", options_.datastore, "/namespace"), deadline);
  if (!response.ok()) return response.status();
  std::vector<std::string> namespaces = {""};
  if (response->status == 404 || response->status == 400) {
    return namespaces;  // a server without namespaces (PBS < 2.2): the root only
  }
  absl::StatusOr<nlohmann::json> data = DataArray(*response, "listing namespaces", Describe());
  if (!data.ok()) return data.status();
  for (const nlohmann::json& entry : *data) {
    if (!entry.is_object() || !entry.contains("ns") || !entry["ns"].is_string()) continue;
    std::string ns = entry["ns"].get<std::string>();
    if (!ns.empty() && std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
      namespaces.push_back(std::move(ns));
    }
  }
  return namespaces;
}

absl::StatusOr<std::vector<SnapshotName>> PbsUpstream::ListSnapshots() {
  const absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<std::vector<std::string>> namespaces = ListNamespaces(deadline);
  if (!namespaces.ok()) return namespaces.status();
  std::vector<SnapshotName> snapshots;
  for (const std::string& ns : *namespaces) {
    std::string path =
        absl::StrCat("/api2/json/admin/datastore/", options_.datastore, "/snapshots");
    if (!ns.empty()) absl::StrAppend(&path, "?ns=", PercentEncodeComponent(ns));
    absl::StatusOr<Http1Response> response = api_->Get(path, deadline);
    if (!response.ok()) return response.status();
    absl::StatusOr<nlohmann::json> data = DataArray(*response, "listing snapshots", Describe());
    if (!data.ok()) return data.status();
    for (const nlohmann::json& entry : *data) {
      if (!entry.is_object() || !HasManifest(entry)) continue;
      if (!entry.contains("backup-type") || !entry["backup-type"].is_string() ||
          !entry.contains("backup-id") || !entry["backup-id"].is_string() ||
          !entry.contains("backup-time") || !entry["backup-time"].is_number_integer()) {
        return absl::UnavailableError(absl::StrCat(Describe(), " listed a malformed snapshot"));
      }
      absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(
          ns, entry["backup-type"].get<std::string>(), entry["backup-id"].get<std::string>(),
          entry["backup-time"].get<int64_t>());
      if (!name.ok()) {
        return absl::UnavailableError(
            absl::StrCat(Describe(), " listed an invalid snapshot: ", name.status().message()));
      }
      snapshots.push_back(*std::move(name));
    }
  }
  std::sort(snapshots.begin(), snapshots.end(), SnapshotNameLess);
  return snapshots;
}

absl::Status PbsUpstream::CheckReadable() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Now() - health_checked_ < options_.health_cache) return health_;
  }
  absl::StatusOr<Http1Response> response =
      api_->Get("/api2/json/version", absl::Now() + options_.timeout);
  absl::Status health;
  if (!response.ok()) {
    health = absl::UnavailableError(
        absl::StrCat(Describe(), " is not readable: ", response.status().message()));
  } else if (response->status != 200) {
    health = absl::UnavailableError(
        absl::StrCat(Describe(), " is not readable: HTTP ", response->status));
  }
  std::lock_guard<std::mutex> lock(mu_);
  health_ = health;
  health_checked_ = absl::Now();
  return health;
}

std::string PbsUpstream::Describe() const {
  return absl::StrCat("pbs ", api_->description(), " as ", api_->auth_id());
}

}  // namespace chunkcache
