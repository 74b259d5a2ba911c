#include "cache/chunk_request.h"

#include <string>
#include <utility>

namespace chunkcache {

ChunkDigest CacheKeyFor(const ChunkDigest& digest, const CryptConfig* key) {
  if (key == nullptr) return digest;
  std::string material = "chunkcache encrypted chunk v1";
  material.push_back('\0');
  material.append(reinterpret_cast<const char*>(key->fingerprint().data()),
                  key->fingerprint().size());
  material.append(digest.AsBytes());
  return Sha256(material);
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
