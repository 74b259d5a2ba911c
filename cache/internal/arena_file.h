// ArenaFile: the one file, mapped shared into memory, that holds every decoded chunk.
//
// Chunk bytes live in the page cache of this file, not on the heap: the process's anonymous
// memory does not grow with the cache capacity, and the kernel may write pages back and drop
// them under memory pressure. By default the file has no name (O_TMPFILE, or created and
// unlinked at once) and vanishes with the process; a persistent cache uses a named file.
// Blocks are reserved with fallocate before a chunk is written into them, so a full disk is
// an error at reservation time instead of a SIGBUS on a later write to the mapping.
//
//   absl::StatusOr<std::unique_ptr<ArenaFile>> arena = ArenaFile::CreateUnnamed(dir, 1 << 30);
//   RETURN_IF_ERROR((*arena)->Reserve(offset, length));
//   std::memcpy((*arena)->base() + offset, data, length);
//
// Owns the descriptor and the mapping; both are released by the destructor. The mapping is
// never moved, so pointers into it stay valid for the object's lifetime. Thread-safe: all
// methods only issue system calls on disjoint ranges.
#ifndef CHUNKCACHE_CACHE_INTERNAL_ARENA_FILE_H_
#define CHUNKCACHE_CACHE_INTERNAL_ARENA_FILE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chunkcache::internal {

inline constexpr uint64_t kArenaPageSize = 4096;

class ArenaFile {
 public:
  // A file without a name in `dir`, `size_bytes` long (sparse), mapped shared.
  static absl::StatusOr<std::unique_ptr<ArenaFile>> CreateUnnamed(const std::filesystem::path& dir,
                                                                  uint64_t size_bytes);
  // Opens or creates `path` and sets its length to `size_bytes` (keeping existing bytes up
  // to that length), mapped shared.
  static absl::StatusOr<std::unique_ptr<ArenaFile>> OpenNamed(const std::filesystem::path& path,
                                                              uint64_t size_bytes);
  ~ArenaFile();
  ArenaFile(const ArenaFile&) = delete;
  ArenaFile& operator=(const ArenaFile&) = delete;

  char* base() const { return base_; }
  uint64_t size() const { return size_; }

  // Allocates disk blocks for [offset, offset + length) so that writing through the mapping
  // cannot fail later. RESOURCE_EXHAUSTED when the file system is full.
  absl::Status Reserve(uint64_t offset, uint64_t length);
  // Drops the bytes of [offset, offset + length) from the page cache and the disk (the range
  // reads back as zeros). Best effort: used so that freed plaintext does not linger.
  void Discard(uint64_t offset, uint64_t length);

  // Removes the arena file at `path` (if any) so that its bytes do not stay on the disk: its
  // blocks are punched out and the file truncated to zero before the name goes, so neither
  // another link to it nor a descriptor still open on it can read them, and the freed blocks
  // hold no chunk bytes (on file systems that zero punched blocks). OK when there is no file.
  static absl::Status ScrubAndRemove(const std::filesystem::path& path);

 private:
  ArenaFile(int fd, char* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  static absl::StatusOr<std::unique_ptr<ArenaFile>> MapDescriptor(int fd, uint64_t size_bytes,
                                                                  const std::string& what);

  int fd_;
  char* base_;
  uint64_t size_;
};

}  // namespace chunkcache::internal

#endif  // CHUNKCACHE_CACHE_INTERNAL_ARENA_FILE_H_
