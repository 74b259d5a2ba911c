// What the cache needs to find, fetch and verify one chunk.
//
// A ChunkSource describes where chunks of one archive come from and how they are checked:
// the datastore (its name is the metrics label), its Upstream, the key, the archive's crypt
// mode and the snapshot and archive the upstream is asked to read them for. Sessions create one per
// archive and share it with every fetch, which may outlive the session, so it is held by
// shared_ptr.
//
// The cache key is the digest for plain chunks (crypt modes none and sign-only, whose digests
// are plain SHA-256 even when the datastore has a key). For encrypted chunks the plaintext is
// tied to the key, so the cache key is SHA-256 over a domain tag, the key fingerprint and the
// digest: a session of another datastore (or without the key) can never hit plaintext that
// was decrypted for this one, even if its index names the same digest.
//
//   auto source = std::make_shared<const ChunkSource>(ChunkSource{"store1", upstream});
//   ChunkRequest request = MakeChunkRequest(source, digest, /*expected_size=*/4194304);
//   absl::StatusOr<ChunkHandle> chunk = cache->Get(request, absl::Now() + absl::Seconds(30));
#ifndef CHUNKCACHE_CACHE_CHUNK_REQUEST_H_
#define CHUNKCACHE_CACHE_CHUNK_REQUEST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "format/blob.h"
#include "format/crypt_config.h"
#include "format/digest.h"
#include "format/snapshot_name.h"
#include "upstream/upstream.h"

namespace chunkcache {

struct ChunkSource {
  std::string datastore;                    // configured name (a metrics label), never a path
  std::shared_ptr<Upstream> upstream;       // must not be null
  std::shared_ptr<const CryptConfig> key;   // null: no key
  CryptMode crypt_mode = CryptMode::kNone;  // the archive's mode from the manifest
  // The snapshot and archive whose index names the chunks (ChunkReadOptions): a PBS server
  // serves a chunk only to a reader session of such a snapshot. Unset for a chunk read by
  // digest alone (GetChunk without a snapshot, persisted entries).
  std::optional<SnapshotName> snapshot;
  std::string archive;

  // The key that decodes and names this archive's chunks: `key` for crypt mode encrypt,
  // null otherwise.
  const CryptConfig* chunk_key() const {
    return crypt_mode == CryptMode::kEncrypt ? key.get() : nullptr;
  }

  // "DATASTORE:[ns/NS/]TYPE/ID/TIME/ARCHIVE" for error messages about an archive's chunks;
  // empty for chunks read by digest alone.
  std::string Describe() const;
};

struct ChunkRequest {
  ChunkDigest cache_key;  // CacheKeyFor(digest, key)
  ChunkDigest digest;     // the chunk's name in the index and the upstream
  // The length of the index range; the decoded chunk must have exactly this length. When
  // unknown, the cache reserves kMaxChunkSize and trims after decoding.
  std::optional<uint64_t> expected_size;
  std::shared_ptr<const ChunkSource> source;
  // A demand lookup by the sequential stream whose readahead fetched this chunk, reading it
  // (once, or in pieces): a hit for the stats, but not a use for the eviction policy
  // (EvictionPolicy::OnStreamAccess), so read-once restore data stays among the first
  // victims. A stream read that joins the chunk's prefetch still in flight raises its
  // priority without turning it into a demand insert. Set by SnapshotSession, which also sets
  // it on every read of a stream registered with a policy that knows streams
  // (ChunkCache::OpenStream): there a miss, too, enters the policy as the stream's.
  bool stream_read = false;
  // A demand lookup by a read of one of its session's sequential streams (a restore, a copy;
  // ReadaheadDetector::Continuation::sequential_reader), whether or not readahead asked for this chunk. Any
  // other demand lookup is a random reader's (a guest's): while it waits for a fetch, readahead
  // on the same upstream is held back (ChunkCacheOptions::max_readahead_fetches_under_demand).
  // Set by SnapshotSession.
  bool sequential_read = false;
  // Who asks, as an opaque number chosen by the caller (the service: its client's identity);
  // 0 when unknown. Queued demand fetches are shared fairly between (requester, source)
  // pairs: one client's burst of misses on one archive cannot fill the queue for the others.
  uint64_t requester = 0;
};

// OK when a decoded chunk of `size` bytes has the length the request's index range gives it
// (or no length was given); else DATA_LOSS naming the chunk and its archive. Checked for every
// reader, hit or miss: a chunk cached for one index may be named by a bad or mismatched index
// of another archive, and must not be served there.
absl::Status CheckChunkLength(const ChunkRequest& request, uint64_t size);

// The key under which the decoded chunk is cached (see above).
ChunkDigest CacheKeyFor(const ChunkDigest& digest, const CryptConfig* key);

// A request for `digest` from `source`, with its cache key computed from source->chunk_key().
ChunkRequest MakeChunkRequest(std::shared_ptr<const ChunkSource> source, const ChunkDigest& digest,
                              std::optional<uint64_t> expected_size);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_CHUNK_REQUEST_H_
