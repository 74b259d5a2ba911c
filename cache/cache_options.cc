#include "cache/cache_options.h"

#include "absl/strings/str_cat.h"

namespace chunkcache {

absl::Status ValidateChunkCacheOptions(const ChunkCacheOptions& options) {
  if (options.cache_dir.empty()) {
    return absl::InvalidArgumentError("cache_dir is empty; set the cache directory");
  }
  if (options.capacity_bytes < 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity_bytes ", options.capacity_bytes, " is below one 4096-byte page"));
  }
  if (options.max_concurrent_fetches < 1 || options.max_concurrent_fetches > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_concurrent_fetches ", options.max_concurrent_fetches, " must be between 1 and 1024"));
  }
  if (options.max_queued_fetches < 1) {
    return absl::InvalidArgumentError("max_queued_fetches must be at least 1");
  }
  if (options.max_hinted_bytes > options.capacity_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("max_hinted_bytes ", options.max_hinted_bytes,
                                                   " exceeds capacity_bytes ",
                                                   options.capacity_bytes));
  }
  if (!(options.readahead_yield_window_fetch_times >= 0 &&
        options.readahead_yield_window_fetch_times <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("readahead_yield_window_fetch_times ",
                     options.readahead_yield_window_fetch_times, " is not within 0 .. 100"));
  }
  if (options.max_readahead_pinned_bytes > options.capacity_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_readahead_pinned_bytes ", options.max_readahead_pinned_bytes,
                     " exceeds capacity_bytes ", options.capacity_bytes));
  }
  return absl::OkStatus();
}

}  // namespace chunkcache
