// ServiceDeps: what the RPC handlers of ChunkCacheService share — the resolver from SnapshotRef
// to session, the metrics, the admission of calls (draining at shutdown), the pin counter and
// the pin budget of zero-copy replies, the read cap, the cache and the pool for blocking upstream
// work. Owned by ChunkCacheServer, which outlives every RPC; handlers only borrow it.
#ifndef CHUNKCACHE_SERVICE_SERVICE_DEPS_H_
#define CHUNKCACHE_SERVICE_SERVICE_DEPS_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cache/cache_options.h"
#include "cache/chunk_cache.h"
#include "service/archive_opener.h"
#include "service/archive_resolver.h"
#include "service/blocking_pool.h"
#include "service/range_response_encoder.h"
#include "service/reply_pin_budget.h"
#include "service/request_metrics.h"
#include "service/rpc_admission.h"

namespace chunkcache {

struct ServiceDeps {
  const ArchiveResolver* resolver = nullptr;
  RequestMetrics* metrics = nullptr;
  RpcAdmission* admission = nullptr;
  std::shared_ptr<ZeroCopyPins> pins;
  // Caps the cache bytes zero-copy replies pin, per connection and in total; null: no cap.
  std::shared_ptr<ReplyPinBudget> reply_budget;
  uint64_t max_read_bytes = 0;
  ChunkCache* cache = nullptr;  // GetChunk reads through it directly
  // Opens, snapshot file reads and listings run here (ChunkCacheService owns it).
  BlockingPool* pool = nullptr;
  // Opens archives on `pool`, one open per archive however many calls wait for it.
  ArchiveOpener* opener = nullptr;
  // Prefetch ranges per call (SessionOptions::max_prefetch_ranges), checked before anything
  // is copied or opened.
  size_t max_prefetch_ranges = SessionOptions{}.max_prefetch_ranges;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_SERVICE_DEPS_H_
