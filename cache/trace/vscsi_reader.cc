#include "cache/trace/vscsi_reader.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace chunkcache {
namespace {

constexpr size_t kV1RecordBytes = 32;
constexpr size_t kV2RecordBytes = 40;
constexpr uint64_t kSectorBytes = 512;

// Byte by byte, so the host's endianness and alignment do not matter.
template <typename T>
T LoadLittleEndian(const char* p) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return static_cast<T>(value);
}

struct RecordLayout {
  int version;
  size_t record_bytes;
  size_t len_at, cmd_at, ver_at, lbn_at, ts_at;
};

constexpr RecordLayout kV1 = {1, kV1RecordBytes, 4, 12, 14, 16, 24};
constexpr RecordLayout kV2 = {2, kV2RecordBytes, 8, 0, 2, 16, 24};

int VersionAt(std::string_view bytes, size_t at) {
  return LoadLittleEndian<uint16_t>(bytes.data() + at) >> 8;
}

// True when the first (up to) two records all carry `layout`'s version.
bool LooksLike(std::string_view bytes, const RecordLayout& layout) {
  const size_t records = std::min<size_t>(2, bytes.size() / layout.record_bytes);
  if (records == 0) return false;
  for (size_t i = 0; i < records; ++i) {
    if (VersionAt(bytes, i * layout.record_bytes + layout.ver_at) != layout.version) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<BlockRequest>> ParseVscsiTrace(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("vscsi trace is empty");
  const RecordLayout* layout = nullptr;
  if (bytes.size() >= 2 * kV2RecordBytes && LooksLike(bytes, kV2)) {
    layout = &kV2;
  } else if (LooksLike(bytes, kV1)) {
    layout = &kV1;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a vscsi trace: the first records carry neither version 1 (0x01 at byte 15) nor "
        "version 2 (0x02 at byte 3); file size ",
        bytes.size(), " bytes"));
  }
  if (bytes.size() % layout->record_bytes != 0) {
    const size_t whole = bytes.size() / layout->record_bytes;
    return absl::InvalidArgumentError(
        absl::StrCat("vscsi v", layout->version, " trace is truncated: ", bytes.size(),
                     " bytes is not a multiple of the ", layout->record_bytes,
                     "-byte record; record ", whole, " (at byte ", whole * layout->record_bytes,
                     ") has only ", bytes.size() % layout->record_bytes, " bytes"));
  }
  const size_t count = bytes.size() / layout->record_bytes;
  std::vector<BlockRequest> requests;
  requests.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const char* record = bytes.data() + i * layout->record_bytes;
    const int version = LoadLittleEndian<uint16_t>(record + layout->ver_at) >> 8;
    if (version != layout->version) {
      return absl::InvalidArgumentError(
          absl::StrCat("vscsi record ", i, " (at byte ", i * layout->record_bytes, ") has version ",
                       version, ", but the trace is version ", layout->version));
    }
    const uint64_t lbn = LoadLittleEndian<uint64_t>(record + layout->lbn_at);
    if (lbn > std::numeric_limits<uint64_t>::max() / kSectorBytes / 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("vscsi record ", i, " (at byte ", i * layout->record_bytes, ") has lbn ",
                       lbn, ", beyond any disk (the byte offset overflows)"));
    }
    BlockRequest request;
    request.offset = lbn * kSectorBytes;
    request.length = LoadLittleEndian<uint32_t>(record + layout->len_at);
    request.op = BlockOpFromScsiOpcode(LoadLittleEndian<uint16_t>(record + layout->cmd_at));
    request.time_us = LoadLittleEndian<uint64_t>(record + layout->ts_at);
    requests.push_back(request);
  }
  return requests;
}

}  // namespace chunkcache
