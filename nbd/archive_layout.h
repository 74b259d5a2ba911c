// ArchiveLayout: which bytes of an archive are zero chunks, so that reads skip them
// (NBD_REPLY_TYPE_OFFSET_HOLE: nothing is fetched, nothing is sent) and block status reports
// them as HOLE|ZERO.
//
// A zero chunk is an index entry whose digest is the digest of that many zero bytes — keyed
// by the archive's key for an encrypted archive, as its index was written. A fixed index has
// one chunk size (and maybe a short last chunk): those sizes are checked. A dynamic index's
// chunks differ in size; a run of zeros in the input is cut into repeated chunks of the
// chunker's largest size, so only the sizes of chunks that occur more than once are checked
// (a few hashes at most, not the whole archive).
//
//   ArchiveLayout layout = ArchiveLayout::Build(session->index(), key);
//   for (const LayoutRun& run : layout.Runs(offset, length, kMaxRuns)) ...
//
// Immutable after Build; thread-safe.
#ifndef CHUNKCACHE_NBD_ARCHIVE_LAYOUT_H_
#define CHUNKCACHE_NBD_ARCHIVE_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/chunk_index.h"
#include "format/crypt_config.h"

namespace chunkcache::nbd {

// Consecutive bytes that are all zero chunks, or all data chunks.
struct LayoutRun {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool zero = false;
};

class ArchiveLayout {
 public:
  // `key`: the archive's key when it is encrypted, else null. `index` must outlive the layout.
  static ArchiveLayout Build(const ChunkIndex& index, const CryptConfig* key);

  // [offset, offset + length) clipped to the archive, as alternating runs; at most `max_runs`
  // (the last run then ends before offset + length).
  std::vector<LayoutRun> Runs(uint64_t offset, uint64_t length, size_t max_runs) const;

  bool zero(size_t entry) const { return zero_[entry]; }
  size_t zero_chunks() const { return zero_chunks_; }
  uint64_t size() const { return index_->size(); }

 private:
  explicit ArchiveLayout(const ChunkIndex* index) : index_(index) {}
  const ChunkIndex* index_;
  std::vector<bool> zero_;
  size_t zero_chunks_ = 0;
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_ARCHIVE_LAYOUT_H_
