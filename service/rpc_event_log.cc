#include "service/rpc_event_log.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "format/string_view_compat.h"
#include "service/log_setup.h"
#include "service/status_mapping.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

// The chunk of the failed range that the error names: chunk errors carry the digest's short
// form ("chunk bb9f8df6…: CRC mismatch"); the range's index entries give its full digest.
std::optional<ChunkDigest> CorruptChunkOf(const RpcEvent& event, const absl::Status& status) {
  if (event.session == nullptr || event.length == 0) return std::nullopt;
  const ChunkIndex& index = event.session->index();
  if (event.offset >= index.size()) return std::nullopt;
  std::optional<ChunkLocation> start = index.Locate(event.offset);
  if (!start.has_value()) return std::nullopt;
  const uint64_t end = event.offset + std::min(event.length, index.size() - event.offset);
  for (size_t entry = start->entry; entry < index.chunk_count(); ++entry) {
    if (index.range(entry).begin >= end) break;
    const ChunkDigest digest = event.session->RequestFor(entry).digest;
    if (absl::StrContains(status.message(), digest.Hex().substr(0, 8))) return digest;
  }
  return std::nullopt;
}

std::string Where(const RpcEvent& event) {
  if (event.request == nullptr) return "";
  std::string where = " archive=" + LogValue(event.request->Describe());
  if (!event.request->client.empty()) where += " client=" + LogValue(event.request->client);
  return where;
}

}  // namespace

void LogRpcFailure(const RpcEvent& event, const absl::Status& status) {
  const std::string_view rpc = RpcName(event.rpc);
  const std::string_view code = StatusCodeName(status.code());
  const std::string error = LogValue(status.message());
  const std::string where = Where(event);
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      spdlog::info("event=access_denied rpc={} code={}{} error={}", rpc, code, where, error);
      return;
    case absl::StatusCode::kDataLoss: {
      std::string chunk;
      if (std::optional<ChunkDigest> digest = CorruptChunkOf(event, status); digest.has_value()) {
        const std::string hex = digest->Hex();
        const std::filesystem::path file =
            event.request->datastore->path / ".chunks" / hex.substr(0, 4) / hex;
        chunk = " chunk=" + hex + " path=" + LogValue(file.string());
      }
      spdlog::error("event=corrupt_chunk rpc={}{} offset={} length={}{} error={}", rpc, where,
                    event.offset, event.length, chunk, error);
      return;
    }
    case absl::StatusCode::kNotFound:
      if (event.session != nullptr) {
        // The archive is open, so what is missing is one of its chunks.
        spdlog::warn("event=upstream_error rpc={} code={}{} offset={} length={} error={}", rpc,
                     code, where, event.offset, event.length, error);
        return;
      }
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kAborted:
      spdlog::warn("event=read_failed rpc={} code={}{} offset={} length={} error={}", rpc, code,
                   where, event.offset, event.length, error);
      return;
    default:
      break;
  }
  spdlog::debug("event=rpc_failed rpc={} code={}{} error={}", rpc, code, where, error);
}

}  // namespace chunkcache
