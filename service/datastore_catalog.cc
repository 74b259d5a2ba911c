#include "service/datastore_catalog.h"

#include "absl/strings/str_cat.h"
#include "service/log_setup.h"
#include "spdlog/spdlog.h"
#include "upstream/datastore_upstream.h"
#include "upstream/key_source.h"

namespace chunkcache {

absl::StatusOr<std::unique_ptr<DatastoreCatalog>> DatastoreCatalog::Open(
    const std::vector<DatastoreSettings>& datastores) {
  std::vector<CatalogEntry> entries;
  for (const DatastoreSettings& settings : datastores) {
    absl::StatusOr<std::unique_ptr<DatastoreUpstream>> upstream =
        DatastoreUpstream::Open(settings.path);
    if (!upstream.ok()) {
      return absl::Status(upstream.status().code(),
                          absl::StrCat("datastore ", settings.name, " at ", settings.path.string(),
                                       ": ", upstream.status().message()));
    }
    CatalogEntry entry;
    entry.ref.name = settings.name;
    entry.ref.upstream = std::shared_ptr<Upstream>(*std::move(upstream));
    if (settings.wrap_upstream) entry.ref.upstream = settings.wrap_upstream(entry.ref.upstream);
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
    spdlog::info("event=datastore_opened datastore={} path={} key_fingerprint={}",
                 LogValue(settings.name), LogValue(settings.path.string()),
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
