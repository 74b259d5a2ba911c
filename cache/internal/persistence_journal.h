// PersistenceJournal: the metadata of a persistent arena: which chunk is in which extent.
//
// An append-only log next to the arena file: one fixed-size record per insert (cache key,
// digest, extent, decoded size, key fingerprint or plain) or remove, each with its own CRC32.
// Loading replays the log and stops at the first torn or corrupt record; a later insert wins
// over any earlier entry whose extent it overlaps (the earlier one's remove was lost). The
// log is rewritten compacted (temporary file + rename) when opened and when it has grown to
// several times the live entries.
//
// A rewrite is atomic and durable: the new log is written to a temporary file, synced
// (fsync), renamed over the old one, and the directory is synced, so a power cut leaves
// either the old log or the complete new one, never an empty file in its place (which would
// lose the whole warm cache). Appended records are not synced: they carry no guarantee that
// the arena bytes reached the disk either. Every reloaded entry is re-verified by digest
// before it is served, and a mismatch drops it, so a crash can only lose entries, never
// serve wrong bytes.
//
//   std::vector<PersistedEntry> live = PersistenceJournal::Load(path, total_pages);
//   auto journal = PersistenceJournal::Rewrite(path, live);   // compacted, open for append
//   (*journal)->AppendInsert(entry);
//
// Not thread-safe: the cache appends under its space mutex, so the log order matches the
// order in which extents change hands.
#ifndef CHUNKCACHE_CACHE_INTERNAL_PERSISTENCE_JOURNAL_H_
#define CHUNKCACHE_CACHE_INTERNAL_PERSISTENCE_JOURNAL_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache::internal {

struct PersistedEntry {
  ChunkDigest cache_key;
  ChunkDigest digest;
  uint64_t start_page = 0;
  uint64_t size = 0;  // decoded bytes; the extent is PagesFor(size) pages
  bool encrypted = false;
  RawKey key_fingerprint{};
};

// Pages an entry of `size` decoded bytes occupies (at least one).
uint64_t PagesFor(uint64_t size);

struct JournalLoadResult {
  std::vector<PersistedEntry> live;
  uint64_t records_read = 0;
  uint64_t dropped = 0;  // superseded by overlaps, out of the arena, or lost to a torn tail
  bool torn = false;     // the log ended in a partial or corrupt record
};

class PersistenceJournal {
 public:
  // A missing file is an empty journal. Entries that do not fit in `total_pages` are dropped.
  static JournalLoadResult Load(const std::filesystem::path& path, uint64_t total_pages);
  // Writes `live` to a new log that replaces `path` and opens it for appending.
  static absl::StatusOr<std::unique_ptr<PersistenceJournal>> Rewrite(
      const std::filesystem::path& path, const std::vector<PersistedEntry>& live);
  ~PersistenceJournal();
  PersistenceJournal(const PersistenceJournal&) = delete;
  PersistenceJournal& operator=(const PersistenceJournal&) = delete;

  absl::Status AppendInsert(const PersistedEntry& entry);
  absl::Status AppendRemove(const ChunkDigest& cache_key, uint64_t start_page);

  // Records in the log since it was last rewritten.
  uint64_t records() const { return records_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  PersistenceJournal(std::filesystem::path path, int fd, uint64_t records)
      : path_(std::move(path)), fd_(fd), records_(records) {}
  absl::Status Append(const std::string& record);

  std::filesystem::path path_;
  int fd_;
  uint64_t records_;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_PERSISTENCE_JOURNAL_H_
