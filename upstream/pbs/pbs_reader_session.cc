#include "upstream/pbs/pbs_reader_session.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "format/chunk_index.h"
#include "spdlog/spdlog.h"
#include "upstream/pbs/http1_exchange.h"

namespace chunkcache {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

bool IsIndexName(std::string_view name) {
  return name.ends_with(".fidx") || name.ends_with(".didx");
}

// Worth another attempt on a new connection.
bool IsTransient(const absl::Status& status) { return absl::IsUnavailable(status); }

}  // namespace

PbsReaderSession::PbsReaderSession(PbsApiClient* api, SnapshotName snapshot,
                                   absl::Duration request_timeout, PbsUpstreamCounters* counters)
    : api_(api),
      snapshot_(std::move(snapshot)),
      request_timeout_(request_timeout),
      counters_(counters),
      last_used_(absl::Now()) {}

std::string PbsReaderSession::Where() const {
  return absl::StrCat(api_->description(), " snapshot ", snapshot_.RelativeDir());
}

absl::Time PbsReaderSession::last_used() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_used_;
}

bool PbsReaderSession::References(const ChunkDigest& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, index] : indexes_) {
    if (index.digests.contains(digest)) return true;
  }
  return false;
}

absl::StatusOr<PbsReaderSession::Connection> PbsReaderSession::Current(absl::Time deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_used_ = absl::Now();
    if (connection_ != nullptr && connection_->Usable())
      return Connection{connection_, generation_};
  }
  std::lock_guard<std::mutex> opening(open_mu_);
  bool reconnect = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (connection_ != nullptr && connection_->Usable())
      return Connection{connection_, generation_};
    reconnect = generation_ > 0;
  }
  absl::StatusOr<std::shared_ptr<H2Connection>> opened = api_->OpenReader(snapshot_, deadline);
  if (!opened.ok()) return opened.status();
  if (reconnect) {
    if (counters_ != nullptr) counters_->reconnects.fetch_add(1);
    spdlog::info("event=pbs_session_reopened server={} snapshot={}", api_->description(),
                 snapshot_.RelativeDir());
  }
  std::lock_guard<std::mutex> lock(mu_);
  connection_ = *std::move(opened);
  ++generation_;
  return Connection{connection_, generation_};
}

void PbsReaderSession::Drop(const Connection& broken) {
  std::shared_ptr<H2Connection> dropped;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  if (connection_ == broken.h2 && generation_ == broken.generation) dropped.swap(connection_);
}

bool PbsReaderSession::Backoff(absl::Duration& delay, absl::Time deadline) {
  if (absl::Now() + delay >= deadline) return false;
  absl::SleepFor(delay);
  delay = std::min(delay * 2, kMaxBackoff);
  if (counters_ != nullptr) counters_->request_retries.fetch_add(1);
  return true;
}

absl::StatusOr<std::string> PbsReaderSession::DownloadOn(const Connection& connection,
                                                         const std::string& file_name,
                                                         absl::Time deadline) {
  absl::StatusOr<H2Response> response =
      connection.h2->Get(absl::StrCat("/download?file-name=", PercentEncodeComponent(file_name)),
                         std::min(deadline, absl::Now() + request_timeout_));
  if (!response.ok()) return response.status();
  if (response->status == 200) {
    if (IsIndexName(file_name)) {
      absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(response->body);
      if (!index.ok()) {
        return absl::DataLossError(absl::StrCat(Where(), ": index ", file_name,
                                                " does not parse: ", index.status().message()));
      }
      std::lock_guard<std::mutex> lock(mu_);
      IndexState& state = indexes_[file_name];
      if (state.digests.empty())
        state.digests.insert(index->digests().begin(), index->digests().end());
      state.registered_in = connection.generation;
    }
    return std::move(response->body);
  }
  const std::string detail =
      absl::StrCat("HTTP ", response->status, ": ", response->body.substr(0, 300));
  if (response->status == 400 || response->status == 404) {
    return absl::NotFoundError(
        absl::StrCat(Where(), ": file ", file_name, " not found (", detail, ")"));
  }
  if (response->status >= 500) {
    return absl::UnavailableError(absl::StrCat(Where(), ": downloading ", file_name, ": ", detail));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(Where(), ": downloading ", file_name, ": ", detail));
}

absl::StatusOr<std::string> PbsReaderSession::Download(const std::string& file_name,
                                                       absl::Time deadline) {
  absl::Duration delay = kFirstBackoff;
  while (true) {
    absl::StatusOr<Connection> connection = Current(deadline);
    absl::StatusOr<std::string> bytes =
        connection.ok() ? DownloadOn(*connection, file_name, deadline) : connection.status();
    if (bytes.ok() || !IsTransient(bytes.status())) return bytes;
    if (connection.ok() && !connection->h2->Usable()) Drop(*connection);
    if (!Backoff(delay, deadline)) {
      return absl::UnavailableError(absl::StrCat("gave up on ", Where(), " file ", file_name, ": ",
                                                 bytes.status().message()));
    }
  }
}

absl::Status PbsReaderSession::RegisterIndex(const Connection& connection,
                                             const std::string& archive, absl::Time deadline) {
  std::lock_guard<std::mutex> registering(register_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = indexes_.find(archive);
    if (found != indexes_.end() && found->second.registered_in == connection.generation) {
      return absl::OkStatus();
    }
  }
  absl::StatusOr<std::string> index = DownloadOn(connection, archive, deadline);
  return index.status();
}

absl::StatusOr<std::string> PbsReaderSession::ReadChunk(const ChunkDigest& digest,
                                                        const std::string& requested_archive,
                                                        absl::Time deadline) {
  std::string archive = requested_archive;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (archive.empty()) {
      for (const auto& [name, index] : indexes_) {
        if (index.digests.contains(digest)) archive = name;
      }
      if (archive.empty()) {
        return absl::NotFoundError(absl::StrCat(Where(), ": chunk ", digest.Hex(),
                                                " is not referenced by any index read from it"));
      }
    }
    known = indexes_.contains(archive);
  }
  if (!known) {
    // The cache opened the archive in an earlier session (evicted since): read it again here.
    absl::StatusOr<std::string> index = Download(archive, deadline);
    if (!index.ok()) return index.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = indexes_.find(archive);
    if (found == indexes_.end() || !found->second.digests.contains(digest)) {
      return absl::NotFoundError(
          absl::StrCat(Where(), ": chunk ", digest.Hex(), " is not referenced by ", archive));
    }
  }
  const std::string path = absl::StrCat("/chunk?digest=", digest.Hex());
  absl::Duration delay = kFirstBackoff;
  bool registered_again = false;
  while (true) {
    absl::StatusOr<Connection> connection = Current(deadline);
    absl::Status failed;
    if (connection.ok()) {
      failed = RegisterIndex(*connection, archive, deadline);
      if (failed.ok()) {
        // The last chunk's size is the guess for this one: an image's chunks all have one size.
        absl::StatusOr<H2Response> response =
            connection->h2->Get(path, std::min(deadline, absl::Now() + request_timeout_),
                                last_chunk_bytes_.load(std::memory_order_relaxed));
        if (response.ok() && response->status == 200) {
          last_chunk_bytes_.store(response->body.size(), std::memory_order_relaxed);
          return std::move(response->body);
        }
        if (!response.ok()) {
          failed = response.status();
        } else if (response->status == 401) {
          // "Not registered in this session": the index download did not count (e.g. the
          // server restarted between it and this request). Once more, then give up.
          if (!registered_again) {
            registered_again = true;
            std::lock_guard<std::mutex> lock(mu_);
            if (auto found = indexes_.find(archive); found != indexes_.end()) {
              found->second.registered_in = 0;
            }
            continue;
          }
          return absl::UnavailableError(absl::StrCat(Where(), ": the server refused chunk ",
                                                     digest.Hex(), " (401) although ", archive,
                                                     " was downloaded again in this session"));
        } else if (response->status == 400) {
          spdlog::warn(
              "event=pbs_chunk_unreadable server={} snapshot={} digest={} status=400 "
              "body={}",
              api_->description(), snapshot_.RelativeDir(), digest.Hex(),
              response->body.substr(0, 200));
          return absl::NotFoundError(absl::StrCat(Where(), ": chunk ", digest.Hex(),
                                                  " is missing or unreadable on the server (400: ",
                                                  response->body.substr(0, 200), ")"));
        } else {
          failed = absl::UnavailableError(absl::StrCat(Where(), ": chunk ", digest.Hex(), ": HTTP ",
                                                       response->status, ": ",
                                                       response->body.substr(0, 200)));
          if (response->status < 500) return failed;
        }
      }
    } else {
      failed = connection.status();
    }
    if (!IsTransient(failed)) return failed;
    if (connection.ok() && !connection->h2->Usable()) Drop(*connection);
    if (!Backoff(delay, deadline)) {
      spdlog::warn("event=pbs_chunk_failed server={} snapshot={} digest={} error={}",
                   api_->description(), snapshot_.RelativeDir(), digest.Hex(),
                   std::string(failed.message()));
      return absl::UnavailableError(
          absl::StrCat("gave up on ", Where(), " chunk ", digest.Hex(), ": ", failed.message()));
    }
  }
}

}  // namespace chunkcache
