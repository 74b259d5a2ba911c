#include "format/chunk_index.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/aes_gcm.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

using Magic = std::array<uint8_t, 8>;
// spec §1.1.
constexpr Magic kFixedIndexMagic = {47, 127, 65, 237, 145, 253, 15, 205};
constexpr Magic kDynamicIndexMagic = {28, 145, 78, 165, 25, 186, 179, 205};

// Header field offsets (spec §2.1, §3.1).
constexpr size_t kUuidOffset = 8;
constexpr size_t kCtimeOffset = 24;
constexpr size_t kCsumOffset = 32;
constexpr size_t kSizeOffset = 64;       // fixed only
constexpr size_t kChunkSizeOffset = 72;  // fixed only
constexpr size_t kFixedEntrySize = 32;
constexpr size_t kDynamicEntrySize = 40;

uint64_t LoadLe64(const char* p) {
  uint8_t b[8];
  std::memcpy(b, p, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

void StoreLe64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

absl::Status IndexError(std::string_view message) {
  return absl::DataLossError(absl::StrCat("index: ", ToAbsl(message)));
}

// The header both kinds share; `csum` is filled in by the caller.
std::string NewHeader(const Magic& magic, const IndexHeaderFields& fields, size_t body_size) {
  std::string file(kIndexHeaderSize + body_size, '\0');
  std::memcpy(file.data(), magic.data(), magic.size());
  std::memcpy(file.data() + kUuidOffset, fields.uuid.data(), fields.uuid.size());
  StoreLe64(file.data() + kCtimeOffset, static_cast<uint64_t>(fields.ctime));
  return file;
}

void SealChecksum(std::string& file) {
  ChunkDigest csum = Sha256(std::string_view(file).substr(kIndexHeaderSize));
  std::memcpy(file.data() + kCsumOffset, csum.bytes.data(), csum.bytes.size());
}

}  // namespace

absl::StatusOr<IndexKind> IndexKindOfArchive(std::string_view archive_name) {
  if (absl::EndsWith(ToAbsl(archive_name), ".fidx")) return IndexKind::kFixed;
  if (absl::EndsWith(ToAbsl(archive_name), ".didx")) return IndexKind::kDynamic;
  return absl::InvalidArgumentError(
      absl::StrCat("archive '", absl::CHexEscape(ToAbsl(archive_name)),
                   "' is not an index (expected a name ending in .fidx or .didx)"));
}

absl::StatusOr<ChunkIndex> ChunkIndex::Parse(std::string_view file) {
  if (file.size() < 8) {
    return IndexError(absl::StrCat("index too small (", file.size(), " bytes, the header alone is ",
                                   kIndexHeaderSize, ")"));
  }
  ChunkIndex index;
  if (std::memcmp(file.data(), kFixedIndexMagic.data(), 8) == 0) {
    index.kind_ = IndexKind::kFixed;
  } else if (std::memcmp(file.data(), kDynamicIndexMagic.data(), 8) == 0) {
    index.kind_ = IndexKind::kDynamic;
  } else {
    return IndexError(absl::StrCat("wrong magic ",
                                   absl::BytesToHexString(ToAbsl(file.substr(0, 8))),
                                   " (not a fixed or dynamic PBS index)"));
  }
  if (file.size() < kIndexHeaderSize) {
    return IndexError(absl::StrCat("index too small (", file.size(), " bytes, the header alone is ",
                                   kIndexHeaderSize, ")"));
  }
  std::memcpy(index.uuid_.data(), file.data() + kUuidOffset, index.uuid_.size());
  index.ctime_ = static_cast<int64_t>(LoadLe64(file.data() + kCtimeOffset));
  index.index_csum_ = ChunkDigest::FromBytes(file.substr(kCsumOffset, 32));
  const std::string_view body = file.substr(kIndexHeaderSize);

  if (index.kind_ == IndexKind::kFixed) {
    index.size_ = LoadLe64(file.data() + kSizeOffset);
    index.chunk_size_ = LoadLe64(file.data() + kChunkSizeOffset);
    if (!IsPowerOfTwo(index.chunk_size_)) {
      return IndexError(absl::StrCat("chunk size ", index.chunk_size_, " is not a power of two"));
    }
    const uint64_t entries =
        index.size_ / index.chunk_size_ + (index.size_ % index.chunk_size_ != 0 ? 1 : 0);
    // 4096 + 32 * entries, saturating: a huge size can never match a real file length.
    const uint64_t max_entries =
        (std::numeric_limits<uint64_t>::max() - kIndexHeaderSize) / kFixedEntrySize;
    const uint64_t expected = entries > max_entries ? std::numeric_limits<uint64_t>::max()
                                                    : kIndexHeaderSize + kFixedEntrySize * entries;
    if (expected != file.size()) {
      return IndexError(absl::StrCat("got unexpected file size (", file.size(), " != ", expected,
                                     ": image size ", index.size_, " in chunks of ",
                                     index.chunk_size_, " needs ", entries, " entries)"));
    }
  } else if (body.size() % kDynamicEntrySize != 0) {
    return IndexError(absl::StrCat("got unexpected file size (", file.size(),
                                   " bytes is not the 4096-byte header plus whole ",
                                   kDynamicEntrySize, "-byte entries)"));
  }

  ChunkDigest computed = Sha256(body);
  if (computed != index.index_csum_) {
    return IndexError(absl::StrCat("index checksum mismatch (stored ", index.index_csum_.Hex(),
                                   ", computed ", computed.Hex(), ")"));
  }

  if (index.kind_ == IndexKind::kFixed) {
    const size_t entries = body.size() / kFixedEntrySize;
    index.digests_.reserve(entries);
    for (size_t i = 0; i < entries; ++i) {
      index.digests_.push_back(ChunkDigest::FromBytes(body.substr(i * kFixedEntrySize, 32)));
    }
  } else {
    const size_t entries = body.size() / kDynamicEntrySize;
    index.digests_.reserve(entries);
    index.ends_.reserve(entries);
    uint64_t previous_end = 0;
    for (size_t i = 0; i < entries; ++i) {
      const char* entry = body.data() + i * kDynamicEntrySize;
      uint64_t end = LoadLe64(entry);
      if (end <= previous_end) {
        return IndexError(absl::StrCat("end offsets are not strictly increasing: entry ", i,
                                       " ends at ", end, ", not after ", previous_end));
      }
      previous_end = end;
      index.ends_.push_back(end);
      index.digests_.push_back(ChunkDigest::FromBytes(std::string_view(entry + 8, 32)));
    }
    index.size_ = previous_end;
  }
  return index;
}

ChunkRange ChunkIndex::range(size_t entry) const {
  if (entry >= digests_.size()) return ChunkRange{size_, size_};
  if (kind_ == IndexKind::kFixed) {
    // begin ≤ size_ for every entry; written so that no sum can overflow.
    uint64_t begin = entry * chunk_size_;
    return ChunkRange{begin, begin + std::min(chunk_size_, size_ - begin)};
  }
  return ChunkRange{entry == 0 ? 0 : ends_[entry - 1], ends_[entry]};
}

std::optional<ChunkLocation> ChunkIndex::Locate(uint64_t offset) const {
  if (offset >= size_ || digests_.empty()) return std::nullopt;
  if (kind_ == IndexKind::kFixed) {
    return ChunkLocation{static_cast<size_t>(offset / chunk_size_), offset % chunk_size_};
  }
  auto it = std::upper_bound(ends_.begin(), ends_.end(), offset);
  if (it == ends_.end()) return std::nullopt;
  size_t entry = static_cast<size_t>(it - ends_.begin());
  return ChunkLocation{entry, offset - range(entry).begin};
}

size_t ChunkIndex::DistinctChunkCount() const {
  absl::flat_hash_set<ChunkDigest> distinct(digests_.begin(), digests_.end());
  return distinct.size();
}

absl::StatusOr<std::string> EncodeFixedIndex(uint64_t size, uint64_t chunk_size,
                                             const std::vector<ChunkDigest>& digests,
                                             const IndexHeaderFields& header) {
  if (!IsPowerOfTwo(chunk_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fixed index chunk size ", chunk_size, " is not a power of two"));
  }
  const uint64_t entries = size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
  if (digests.size() != entries) {
    return absl::InvalidArgumentError(absl::StrCat("an image of ", size, " bytes in chunks of ",
                                                   chunk_size, " needs ", entries, " digests, got ",
                                                   digests.size()));
  }
  std::string file = NewHeader(kFixedIndexMagic, header, digests.size() * kFixedEntrySize);
  StoreLe64(file.data() + kSizeOffset, size);
  StoreLe64(file.data() + kChunkSizeOffset, chunk_size);
  char* entry = file.data() + kIndexHeaderSize;
  for (const ChunkDigest& digest : digests) {
    std::memcpy(entry, digest.bytes.data(), digest.bytes.size());
    entry += kFixedEntrySize;
  }
  SealChecksum(file);
  return file;
}

absl::StatusOr<std::string> EncodeDynamicIndex(const std::vector<DynamicEntry>& entries,
                                               const IndexHeaderFields& header) {
  std::string file = NewHeader(kDynamicIndexMagic, header, entries.size() * kDynamicEntrySize);
  char* out = file.data() + kIndexHeaderSize;
  uint64_t previous_end = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].end <= previous_end) {
      return absl::InvalidArgumentError(absl::StrCat("dynamic index entry ", i, " ends at ",
                                                     entries[i].end, ", not after ", previous_end,
                                                     " (ends must strictly increase)"));
    }
    previous_end = entries[i].end;
    StoreLe64(out, entries[i].end);
    std::memcpy(out + 8, entries[i].digest.bytes.data(), entries[i].digest.bytes.size());
    out += kDynamicEntrySize;
  }
  SealChecksum(file);
  return file;
}

std::array<uint8_t, 16> NewIndexUuid() {
  std::array<uint8_t, 16> uuid{};
  if (!RandomBytes(absl::MakeSpan(uuid))) {
    // The uuid is only an identifier; a constant one is harmless if the CSPRNG is broken.
    uuid.fill(0);
  }
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);  // version 4
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return uuid;
}

std::vector<DigestCount> MostReferencedDigests(const ChunkIndex& index, size_t max) {
  struct Seen {
    size_t count = 0;
    size_t first_entry = 0;
  };
  absl::flat_hash_map<ChunkDigest, Seen> seen;
  for (size_t i = 0; i < index.chunk_count(); ++i) {
    auto [it, inserted] = seen.try_emplace(index.digest(i), Seen{0, i});
    ++it->second.count;
  }
  std::vector<std::pair<ChunkDigest, Seen>> repeated;
  for (const auto& [digest, s] : seen) {
    if (s.count > 1) repeated.emplace_back(digest, s);
  }
  std::sort(repeated.begin(), repeated.end(), [](const auto& a, const auto& b) {
    if (a.second.count != b.second.count) return a.second.count > b.second.count;
    return a.second.first_entry < b.second.first_entry;
  });
  if (repeated.size() > max) repeated.resize(max);
  std::vector<DigestCount> result;
  result.reserve(repeated.size());
  for (const auto& [digest, s] : repeated) {
    result.push_back(DigestCount{digest, s.count, index.range(s.first_entry).size()});
  }
  return result;
}

}  // namespace chunkcache
