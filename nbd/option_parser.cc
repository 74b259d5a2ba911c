#include "nbd/option_parser.h"

#include "absl/strings/str_cat.h"
#include "nbd/protocol.h"
#include "nbd/wire.h"

namespace chunkcache::nbd {
namespace {

// A GO may ask for a handful of info types; more than this is not a real client.
constexpr uint32_t kMaxInfoRequests = 64;
// Meta context queries of one option.
constexpr uint32_t kMaxQueries = 64;

absl::StatusOr<std::string> ReadString(ByteReader& in, absl::string_view what) {
  const uint32_t length = in.U32();
  if (!in.ok()) return absl::InvalidArgumentError(absl::StrCat("truncated ", what, " length"));
  if (length > kMaxStringLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " longer than ", kMaxStringLength, " bytes"));
  }
  std::string_view bytes = in.Bytes(length);
  if (!in.ok()) return absl::InvalidArgumentError(absl::StrCat("truncated ", what));
  if (bytes.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains a NUL byte"));
  }
  return std::string(bytes);
}

}  // namespace

absl::StatusOr<uint32_t> ParseClientFlags(std::string_view four_bytes) {
  ByteReader in(four_bytes);
  const uint32_t flags = in.U32();
  if (!in.ok() || in.remaining() != 0) return absl::InvalidArgumentError("client flags: 4 bytes");
  if ((flags & ~(kClientFlagFixedNewstyle | kClientFlagNoZeroes)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown client flags 0x", absl::Hex(flags)));
  }
  return flags;
}

absl::StatusOr<OptionHeader> ParseOptionHeader(std::string_view bytes) {
  ByteReader in(bytes);
  const uint64_t magic = in.U64();
  OptionHeader header;
  header.option = in.U32();
  header.length = in.U32();
  if (!in.ok() || in.remaining() != 0) return absl::InvalidArgumentError("option header: 16 bytes");
  if (magic != kOptionMagic) return absl::InvalidArgumentError("option without IHAVEOPT magic");
  return header;
}

absl::StatusOr<InfoRequest> ParseInfoRequest(std::string_view payload) {
  ByteReader in(payload);
  InfoRequest request;
  absl::StatusOr<std::string> name = ReadString(in, "export name");
  if (!name.ok()) return name.status();
  request.name = *std::move(name);
  const uint16_t count = in.U16();
  if (!in.ok()) return absl::InvalidArgumentError("truncated information request count");
  if (count > kMaxInfoRequests) {
    return absl::InvalidArgumentError(absl::StrCat(count, " information requests"));
  }
  for (uint16_t i = 0; i < count; ++i) request.info_types.push_back(in.U16());
  if (!in.ok()) return absl::InvalidArgumentError("truncated information requests");
  if (in.remaining() != 0)
    return absl::InvalidArgumentError("bytes after the information requests");
  return request;
}

absl::StatusOr<MetaContextRequest> ParseMetaContextRequest(std::string_view payload) {
  ByteReader in(payload);
  MetaContextRequest request;
  absl::StatusOr<std::string> name = ReadString(in, "export name");
  if (!name.ok()) return name.status();
  request.name = *std::move(name);
  const uint32_t count = in.U32();
  if (!in.ok()) return absl::InvalidArgumentError("truncated query count");
  if (count > kMaxQueries) return absl::InvalidArgumentError(absl::StrCat(count, " queries"));
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<std::string> query = ReadString(in, "query");
    if (!query.ok()) return query.status();
    request.queries.push_back(*std::move(query));
  }
  if (in.remaining() != 0) return absl::InvalidArgumentError("bytes after the queries");
  return request;
}

bool MatchesBaseAllocation(const std::vector<std::string>& queries, bool listing) {
  if (listing && queries.empty()) return true;
  for (const std::string& query : queries) {
    if (query == kBaseAllocation) return true;
    if (listing && query == "base:") return true;
  }
  return false;
}

}  // namespace chunkcache::nbd
