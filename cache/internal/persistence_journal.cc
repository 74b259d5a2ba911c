#include "cache/internal/persistence_journal.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "cache/internal/arena_file.h"

namespace chunkcache::internal {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'J', 'O', 'U', 'R', 'N', 'L'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;  // magic, version, page size
enum RecordType : uint8_t { kInsert = 1, kRemove = 2 };
// type, cache key, digest, start page, size, encrypted, fingerprint, crc32
constexpr size_t kRecordSize = 1 + 32 + 32 + 8 + 8 + 1 + 32 + 4;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t Crc(const char* data, size_t size) {
  return static_cast<uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

std::string Header() {
  std::string out(kMagic, sizeof(kMagic));
  PutU32(out, kVersion);
  PutU32(out, static_cast<uint32_t>(kArenaPageSize));
  return out;
}

std::string EncodeRecord(RecordType type, const PersistedEntry& e) {
  std::string out;
  out.reserve(kRecordSize);
  out.push_back(static_cast<char>(type));
  out.append(e.cache_key.AsBytes());
  out.append(e.digest.AsBytes());
  PutU64(out, e.start_page);
  PutU64(out, e.size);
  out.push_back(e.encrypted ? 1 : 0);
  out.append(reinterpret_cast<const char*>(e.key_fingerprint.data()), e.key_fingerprint.size());
  PutU32(out, Crc(out.data(), out.size()));
  return out;
}

absl::Status WriteAll(int fd, const std::string& bytes, const std::filesystem::path& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("cannot write cache journal ", path.string(), ": ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncError(int err, const std::filesystem::path& path) {
  return absl::InternalError(
      absl::StrCat("cannot sync cache journal ", path.string(), ": ", std::strerror(err)));
}

absl::Status SyncDirectoryOf(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SyncError(errno, dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : SyncError(err, dir);
}

// Live entries while replaying: by cache key, and by extent start to find overlaps.
class Replay {
 public:
  void Insert(const PersistedEntry& e) {
    Remove(e.cache_key);
    const uint64_t end = e.start_page + PagesFor(e.size);
    auto it = by_start_.upper_bound(e.start_page);
    if (it != by_start_.begin()) --it;
    while (it != by_start_.end() && it->first < end) {
      const PersistedEntry& other = by_key_.at(it->second);
      if (other.start_page + PagesFor(other.size) > e.start_page) {
        by_key_.erase(it->second);
        it = by_start_.erase(it);
        ++superseded_;
      } else {
        ++it;
      }
    }
    by_key_[e.cache_key] = e;
    by_start_[e.start_page] = e.cache_key;
  }
  void RemoveAt(const ChunkDigest& key, uint64_t start_page) {
    auto it = by_key_.find(key);
    if (it != by_key_.end() && it->second.start_page == start_page) Remove(key);
  }
  std::vector<PersistedEntry> Live() const {
    std::vector<PersistedEntry> live;
    live.reserve(by_start_.size());
    for (const auto& [start, key] : by_start_) live.push_back(by_key_.at(key));
    return live;
  }
  uint64_t superseded() const { return superseded_; }

 private:
  void Remove(const ChunkDigest& key) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    by_start_.erase(it->second.start_page);
    by_key_.erase(it);
  }
  absl::flat_hash_map<ChunkDigest, PersistedEntry> by_key_;
  std::map<uint64_t, ChunkDigest> by_start_;
  uint64_t superseded_ = 0;
};

}  // namespace

uint64_t PagesFor(uint64_t size) {
  return size == 0 ? 1 : (size + kArenaPageSize - 1) / kArenaPageSize;
}

JournalLoadResult PersistenceJournal::Load(const std::filesystem::path& path,
                                           uint64_t total_pages) {
  JournalLoadResult result;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result;
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (bytes.size() < kHeaderSize || bytes.compare(0, kHeaderSize, Header()) != 0) {
    result.torn = !bytes.empty();
    return result;
  }
  Replay replay;
  size_t pos = kHeaderSize;
  for (; pos + kRecordSize <= bytes.size(); pos += kRecordSize) {
    const char* r = bytes.data() + pos;
    if (GetU32(r + kRecordSize - 4) != Crc(r, kRecordSize - 4)) break;
    const uint8_t type = static_cast<uint8_t>(r[0]);
    if (type != kInsert && type != kRemove) break;
    PersistedEntry e;
    e.cache_key = ChunkDigest::FromBytes(std::string_view(r + 1, 32));
    e.digest = ChunkDigest::FromBytes(std::string_view(r + 33, 32));
    e.start_page = GetU64(r + 65);
    e.size = GetU64(r + 73);
    e.encrypted = r[81] != 0;
    std::memcpy(e.key_fingerprint.data(), r + 82, 32);
    ++result.records_read;
    if (type == kRemove) {
      replay.RemoveAt(e.cache_key, e.start_page);
    } else {
      replay.Insert(e);
    }
  }
  result.torn = pos != bytes.size();
  for (PersistedEntry& e : replay.Live()) {
    const uint64_t pages = PagesFor(e.size);
    if (e.size > (uint64_t{1} << 40) || e.start_page >= total_pages ||
        pages > total_pages - e.start_page) {
      ++result.dropped;
      continue;
    }
    result.live.push_back(std::move(e));
  }
  result.dropped += replay.superseded();
  return result;
}

absl::StatusOr<std::unique_ptr<PersistenceJournal>> PersistenceJournal::Rewrite(
    const std::filesystem::path& path, const std::vector<PersistedEntry>& live) {
  const std::filesystem::path temp = path.string() + ".new";
  const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create cache journal ", temp.string(), ": ", std::strerror(errno)));
  }
  std::string bytes = Header();
  for (const PersistedEntry& e : live) bytes += EncodeRecord(kInsert, e);
  absl::Status written = WriteAll(fd, bytes, temp);
  // The new log's bytes reach the disk before its name does: a rename without it can leave,
  // after a power cut, an empty journal in place of the old one (the whole warm cache lost).
  if (written.ok() && ::fsync(fd) != 0) written = SyncError(errno, temp);
  if (!written.ok()) {
    ::close(fd);
    ::unlink(temp.c_str());
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot replace cache journal ", path.string(), ": ", std::strerror(err)));
  }
  // And the rename itself is durable only once the directory is synced. Should that fail,
  // the new log is in place already and complete; only its durability is uncertain.
  if (absl::Status synced = SyncDirectoryOf(path); !synced.ok()) {
    ::close(fd);
    return synced;
  }
  // The descriptor still refers to the renamed file; later appends go to its end.
  return std::unique_ptr<PersistenceJournal>(new PersistenceJournal(path, fd, live.size()));
}

PersistenceJournal::~PersistenceJournal() { ::close(fd_); }

absl::Status PersistenceJournal::Append(const std::string& record) {
  absl::Status written = WriteAll(fd_, record, path_);
  if (written.ok()) ++records_;
  return written;
}

absl::Status PersistenceJournal::AppendInsert(const PersistedEntry& entry) {
  return Append(EncodeRecord(kInsert, entry));
}

absl::Status PersistenceJournal::AppendRemove(const ChunkDigest& cache_key, uint64_t start_page) {
  PersistedEntry e;
  e.cache_key = cache_key;
  e.start_page = start_page;
  return Append(EncodeRecord(kRemove, e));
}

}  // namespace chunkcache::internal
