#include "service/datastore_health.h"

#include "service/log_setup.h"
#include "spdlog/spdlog.h"

namespace chunkcache {

DatastoreHealth::DatastoreHealth(const DatastoreCatalog* catalog,
                                 grpc::HealthCheckServiceInterface* health, absl::Duration interval)
    : catalog_(catalog), health_(health), interval_(interval) {
  readable_.assign(catalog_->entries().size(), false);
}

void DatastoreHealth::Start() {
  CheckNow();
  thread_ = std::thread([this] { Loop(); });
}

void DatastoreHealth::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool DatastoreHealth::CheckNow() {
  const std::vector<CatalogEntry>& entries = catalog_->entries();
  bool all_readable = true;
  for (size_t i = 0; i < entries.size(); ++i) {
    const absl::Status readable = entries[i].ref.upstream->CheckReadable();
    all_readable = all_readable && readable.ok();
    absl::MutexLock lock(&mu_);
    if (readable.ok() && (!readable_[i] || !first_check_done_)) {
      spdlog::info("event=datastore_readable datastore={}", LogValue(entries[i].ref.name));
    } else if (!readable.ok() && (readable_[i] || !first_check_done_)) {
      spdlog::warn("event=datastore_unreadable datastore={} error={}",
                   LogValue(entries[i].ref.name), LogValue(readable.message()));
    }
    readable_[i] = readable.ok();
  }
  {
    absl::MutexLock lock(&mu_);
    first_check_done_ = true;
  }
  if (health_ != nullptr) {
    // Not SetServingStatus(bool): that would also set kLivenessHealthService.
    health_->SetServingStatus("", all_readable);
    health_->SetServingStatus(kChunkCacheHealthService, all_readable);
  }
  return all_readable;
}

void DatastoreHealth::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_)) break;
    mu_.Unlock();
    CheckNow();
    mu_.Lock();
  }
}

}  // namespace chunkcache
