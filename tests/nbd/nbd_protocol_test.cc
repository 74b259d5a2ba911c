// The NBD wire format without sockets: option and request parsing, reply encoding, export
// names and the zero-chunk layout of an index.
#include <gtest/gtest.h>

#include <string>

#include "format/chunk_index.h"
#include "format/digest.h"
#include "nbd/archive_layout.h"
#include "nbd/export_name.h"
#include "nbd/option_parser.h"
#include "nbd/protocol.h"
#include "nbd/reply_encoder.h"
#include "nbd/request_parser.h"
#include "nbd/wire.h"

namespace chunkcache::nbd {
namespace {

std::string InfoPayload(std::string_view name, std::vector<uint16_t> types) {
  ByteWriter out;
  out.U32(static_cast<uint32_t>(name.size())).Bytes(name).U16(static_cast<uint16_t>(types.size()));
  for (uint16_t t : types) out.U16(t);
  return out.Take();
}

TEST(OptionParserTest, ParsesGoAndRefusesTruncatedOrOversizedPayloads) {
  absl::StatusOr<InfoRequest> go = ParseInfoRequest(InfoPayload("a/b", {kInfoBlockSize, 1}));
  ASSERT_TRUE(go.ok()) << go.status();
  EXPECT_EQ(go->name, "a/b");
  EXPECT_EQ(go->info_types, (std::vector<uint16_t>{kInfoBlockSize, 1}));
  const std::string payload = InfoPayload("a/b", {3});
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_FALSE(ParseInfoRequest(payload.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(ParseInfoRequest(payload + "x").ok());
  EXPECT_FALSE(ParseInfoRequest(ByteWriter().U32(0xffffffff).Take()).ok());
  EXPECT_FALSE(ParseInfoRequest(InfoPayload(std::string("a\0b", 3), {})).ok());
}

TEST(OptionParserTest, MetaContextQueries) {
  const std::string payload = ByteWriter()
                                  .U32(3)
                                  .Bytes("a/b")
                                  .U32(2)
                                  .U32(5)
                                  .Bytes("base:")
                                  .U32(9)
                                  .Bytes("qemu:foo!")
                                  .Take();
  absl::StatusOr<MetaContextRequest> request = ParseMetaContextRequest(payload);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->queries, (std::vector<std::string>{"base:", "qemu:foo!"}));
  EXPECT_TRUE(MatchesBaseAllocation(request->queries, /*listing=*/true));
  EXPECT_FALSE(MatchesBaseAllocation(request->queries, /*listing=*/false));
  EXPECT_TRUE(MatchesBaseAllocation({}, /*listing=*/true));
  EXPECT_FALSE(MatchesBaseAllocation({}, /*listing=*/false));
  EXPECT_TRUE(MatchesBaseAllocation({"base:allocation"}, /*listing=*/false));
}

TEST(OptionParserTest, ClientFlagsAndOptionHeaders) {
  EXPECT_EQ(*ParseClientFlags(ByteWriter().U32(3).Take()), 3u);
  EXPECT_FALSE(ParseClientFlags(ByteWriter().U32(4).Take()).ok());
  absl::StatusOr<OptionHeader> header =
      ParseOptionHeader(ByteWriter().U64(kOptionMagic).U32(kOptGo).U32(77).Take());
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->option, kOptGo);
  EXPECT_EQ(header->length, 77u);
  EXPECT_FALSE(ParseOptionHeader(ByteWriter().U64(1).U32(kOptGo).U32(0).Take()).ok());
}

TEST(RequestParserTest, ChecksEveryCommand) {
  const RequestLimits limits{.export_size = 1000,
                             .max_block_size = 100,
                             .structured_replies = true,
                             .base_allocation = true};
  auto check = [&](uint16_t type, uint64_t offset, uint32_t length, uint16_t flags = 0) {
    const std::string bytes =
        ByteWriter().U32(kRequestMagic).U16(flags).U16(type).U64(42).U64(offset).U32(length).Take();
    absl::StatusOr<Request> request = ParseRequestHeader(bytes);
    EXPECT_TRUE(request.ok());
    EXPECT_EQ(request->cookie, 42u);
    return CheckRequest(*request, limits);
  };
  EXPECT_EQ(check(kCmdRead, 0, 100), 0u);
  EXPECT_EQ(check(kCmdRead, 900, 100, kCmdFlagDf), 0u);
  EXPECT_EQ(check(kCmdRead, 901, 100), kErrInvalid);
  EXPECT_EQ(check(kCmdRead, ~uint64_t{0}, 100), kErrInvalid);
  EXPECT_EQ(check(kCmdRead, 0, 101), kErrInvalid);
  EXPECT_EQ(check(kCmdRead, 0, 0), kErrInvalid);
  EXPECT_EQ(check(kCmdRead, 0, 10, kCmdFlagReqOne), kErrInvalid);
  EXPECT_EQ(check(kCmdWrite, 0, 10), kErrPerm);
  EXPECT_EQ(check(kCmdTrim, 0, 10), kErrPerm);
  EXPECT_EQ(check(kCmdWriteZeroes, 0, 10), kErrPerm);
  EXPECT_EQ(check(kCmdBlockStatus, 0, 1000, kCmdFlagReqOne), 0u);
  EXPECT_EQ(check(kCmdBlockStatus, 1, 1000), kErrInvalid);
  EXPECT_EQ(check(kCmdCache, 0, 1000), 0u);
  EXPECT_EQ(check(kCmdCache, 1000, 1), kErrInvalid);
  EXPECT_EQ(check(99, 0, 1), kErrInvalid);
  EXPECT_FALSE(ParseRequestHeader(std::string(28, 'x')).ok());
}

TEST(ReplyEncoderTest, StructuredChunksHaveTheirLengths) {
  const std::string hole = OffsetHoleChunk(kReplyFlagDone, 7, 4096, 512);
  ByteReader in(hole);
  EXPECT_EQ(in.U32(), kStructuredReplyMagic);
  EXPECT_EQ(in.U16(), kReplyFlagDone);
  EXPECT_EQ(in.U16(), kReplyTypeOffsetHole);
  EXPECT_EQ(in.U64(), 7u);
  EXPECT_EQ(in.U32(), 12u);
  EXPECT_EQ(in.U64(), 4096u);
  EXPECT_EQ(in.U32(), 512u);
  EXPECT_EQ(in.remaining(), 0u);
  const uint64_t offset = 9;
  const std::string error = ErrorChunk(0, 1, kErrIo, "bad", &offset);
  EXPECT_EQ(error.size(), kStructuredHeaderSize + 4 + 2 + 3 + 8);
  EXPECT_EQ(ExportNameReply(1, 2, /*no_zeroes=*/false).size(), 8u + 2 + 124);
  EXPECT_EQ(ExportNameReply(1, 2, /*no_zeroes=*/true).size(), 10u);
}

TEST(ExportNameTest, AcceptsArchivePathsOnly) {
  absl::StatusOr<ExportName> name =
      ParseExportName("store/ns/a/ns/b/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->datastore, "store");
  EXPECT_EQ(name->snapshot.NamespaceName(), "a/b");
  EXPECT_EQ(name->archive, "drive-scsi0.img.fidx");
  EXPECT_EQ(FormatExportName(name->datastore, name->snapshot, name->archive),
            "store/ns/a/ns/b/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx");
  for (const char* bad :
       {"", "store", "store/x.img.fidx", "/vm/100/2026-01-01T00:00:00Z/a.fidx",
        "store/vm/100/2026-01-01T00:00:00Z/..", "store/vm/100/2026-01-01T00:00:00Z/a/b.fidx",
        "store/vm/100/2026-01-01T00:00:00/a.fidx", "store/xx/100/2026-01-01T00:00:00Z/a.fidx"}) {
    EXPECT_FALSE(ParseExportName(bad).ok()) << bad;
  }
}

// A fixed index of 3 chunks of 4 KiB and a short last one: entries 1 and 2 are zero.
TEST(ArchiveLayoutTest, ZeroChunksBecomeRuns) {
  const uint64_t chunk = 4096;
  std::string file(kIndexHeaderSize, '\0');
  const uint8_t magic[8] = {47, 127, 65, 237, 145, 253, 15, 205};  // fixed index magic
  file.replace(0, 8, reinterpret_cast<const char*>(magic), 8);
  std::string digests;
  const ChunkDigest data = Sha256("not zero");
  const ChunkDigest zero = Sha256(std::string(chunk, '\0'));
  for (const ChunkDigest& d : {data, zero, zero, Sha256(std::string(100, '\0'))}) {
    digests += d.AsBytes();
  }
  // Header fields after magic/uuid/ctime/csum (spec: size at 64, chunk_size at 72), little endian.
  const uint64_t size = 3 * chunk + 100;
  for (int i = 0; i < 8; ++i) file[64 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) file[72 + i] = static_cast<char>((chunk >> (8 * i)) & 0xff);
  const ChunkDigest csum = Sha256(digests);
  file.replace(32, 32, csum.AsBytes());
  file += digests;
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(file);
  ASSERT_TRUE(index.ok()) << index.status();
  ArchiveLayout layout = ArchiveLayout::Build(*index, nullptr);
  EXPECT_EQ(layout.zero_chunks(), 3u);
  std::vector<LayoutRun> runs = layout.Runs(0, size, 100);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].length, chunk);
  EXPECT_FALSE(runs[0].zero);
  EXPECT_EQ(runs[1].offset, chunk);
  EXPECT_EQ(runs[1].length, 2 * chunk + 100);
  EXPECT_TRUE(runs[1].zero);
  runs = layout.Runs(10, chunk, 1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].length, chunk - 10);
  EXPECT_TRUE(layout.Runs(size, 10, 5).empty());
}

}  // namespace
}  // namespace chunkcache::nbd
