#include "cache/chunk_request.h"

#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {

std::string ChunkSource::Describe() const {
  if (archive.empty()) return "";
  return absl::StrCat(datastore, ":", snapshot.has_value() ? snapshot->ToString() + "/" : "",
                      archive);
}

ChunkDigest CacheKeyFor(const ChunkDigest& digest, const CryptConfig* key) {
  if (key == nullptr) return digest;
  std::string material = "chunkcache encrypted chunk v1";
  material.push_back('\0');
  material.append(reinterpret_cast<const char*>(key->fingerprint().data()),
                  key->fingerprint().size());
  material.append(digest.AsBytes());
  return Sha256(material);
}

absl::Status CheckChunkLength(const ChunkRequest& request, uint64_t size) {
  if (!request.expected_size.has_value() || *request.expected_size == size) {
    return absl::OkStatus();
  }
  const std::string archive = request.source != nullptr ? request.source->Describe() : "";
  return absl::DataLossError(absl::StrCat(
      "chunk ", request.digest.ShortHex(), " is ", size, " bytes, but the index",
      archive.empty() ? "" : " of ", ToAbsl(archive), " gives it ", *request.expected_size,
      " bytes: the index does not match the chunk; not served"));
}

ChunkRequest MakeChunkRequest(std::shared_ptr<const ChunkSource> source, const ChunkDigest& digest,
                              std::optional<uint64_t> expected_size) {
  ChunkRequest request;
  request.cache_key = CacheKeyFor(digest, source ? source->chunk_key() : nullptr);
  request.digest = digest;
  request.expected_size = expected_size;
  request.source = std::move(source);
  return request;
}

}  // namespace chunkcache
