// ChunkIndex: the genuine upstream .didx, the datastore vectors' .fidx, writers, lookups,
// corrupt files, and the most-referenced digests.
#include "format/chunk_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/format/format_test_util.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::DigestFromHex;
using ::chunkcache::testing::Message;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::VectorPath;
using ::testing::HasSubstr;

constexpr char kUpstreamDidx[] = "upstream/backup-client-pxar-data.ppxar.didx";
constexpr char kPlainFidx[] = "datastore/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";
constexpr char kEncryptedFidx[] =
    "datastore/ns/enc/vm/100/2026-01-02T00:00:00Z/drive-scsi0.img.fidx";

std::string UuidText(const std::array<uint8_t, 16>& uuid) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(uuid.data()), uuid.size()));
}

ChunkDigest NumberedDigest(int n) {
  ChunkDigest d;
  d.bytes.fill(static_cast<uint8_t>(n));
  d.bytes[31] = static_cast<uint8_t>(n >> 8);
  return d;
}

TEST(PbsUpstreamDynamicIndex, ParsesToTheReadmeValues) {
  std::string file = ReadFileBytes(VectorPath(kUpstreamDidx));
  ASSERT_EQ(file.size(), 8096u);
  EXPECT_EQ(Sha256(file).Hex(), "e9b28d2e12925fae074a6526aa8deb05087fc9138ccc46a0b6497633e8f46e0e");
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(file);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->kind(), IndexKind::kDynamic);
  EXPECT_EQ(UuidText(index->uuid()), "f0ef7665555e417ea6eba00a375ceee0");
  EXPECT_EQ(index->ctime(), 1715091951);
  EXPECT_EQ(index->index_csum().Hex(),
            "e13b71c181693fb7d7b46e2f34aadee48337c6828674820e0924ef940a2cbd20");
  EXPECT_EQ(index->size(), 104859232u);
  EXPECT_EQ(index->chunk_size(), 0u);
  ASSERT_EQ(index->chunk_count(), 100u);
  EXPECT_EQ(index->DistinctChunkCount(), 3u);

  const ChunkDigest first =
      DigestFromHex("5c85c0827ed968c4147d6a7e59b0237fa342f6f2a9d4e6ced767f2bfc19a560f");
  const ChunkDigest middle =
      DigestFromHex("504264eb4c90bde66d0d62e0906b8188bae27ee2f62dfbdaf7e0d6937d81979b");
  const ChunkDigest last =
      DigestFromHex("53b46ab166dcef8a3ae9f95ec0f6c5168247a72a0d44f5e3d6e435b930344969");
  EXPECT_EQ(index->digest(0), first);
  EXPECT_EQ(index->range(0).begin, 0u);
  EXPECT_EQ(index->range(0).end, 1048608u);
  for (size_t i = 1; i <= 98; ++i) {
    EXPECT_EQ(index->digest(i), middle) << i;
    EXPECT_EQ(index->range(i).end, 1048608u + 1048592u * i) << i;
    EXPECT_EQ(index->range(i).size(), 1048592u) << i;
  }
  EXPECT_EQ(index->digest(99), last);
  EXPECT_EQ(index->range(99).end, 104859232u);
}

TEST(PbsUpstreamDynamicIndex, LocateUsesEndOffsets) {
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(ReadFileBytes(VectorPath(kUpstreamDidx)));
  ASSERT_TRUE(index.ok()) << index.status();
  struct Case {
    uint64_t offset;
    size_t entry;
    uint64_t in_chunk;
  };
  for (Case c : {Case{0, 0, 0}, Case{1048607, 0, 1048607}, Case{1048608, 1, 0},
                 Case{1048608 + 1048592, 2, 0}, Case{1048608 + 1048591, 1, 1048591},
                 Case{104859231, 99, 104859231 - (1048608 + 1048592 * 98)}}) {
    std::optional<ChunkLocation> loc = index->Locate(c.offset);
    ASSERT_TRUE(loc.has_value()) << c.offset;
    EXPECT_EQ(loc->entry, c.entry) << c.offset;
    EXPECT_EQ(loc->offset_in_chunk, c.in_chunk) << c.offset;
  }
  EXPECT_FALSE(index->Locate(104859232).has_value());
  EXPECT_FALSE(index->Locate(UINT64_MAX).has_value());
}

TEST(PbsUpstreamDynamicIndex, MostReferencedDigestsFindsTheRepeatedChunk) {
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(ReadFileBytes(VectorPath(kUpstreamDidx)));
  ASSERT_TRUE(index.ok());
  std::vector<DigestCount> top = MostReferencedDigests(*index, 8);
  ASSERT_EQ(top.size(), 1u);  // the first and last chunks occur once
  EXPECT_EQ(top[0].digest, index->digest(1));
  EXPECT_EQ(top[0].count, 98u);
  EXPECT_EQ(top[0].size, 1048592u);
}

TEST(PbsDatastoreFixedIndex, PlainAndEncryptedImages) {
  struct Case {
    const char* path;
    const char* csum;
    const char* digest0;
    const char* digest4;
  };
  for (Case c :
       {Case{kPlainFidx, "41f1ecbf7bbab699a3e3f20b728dbf8ce0105cfb8f27892a773dced1fd210f59",
             "bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8",
             "5f6b373403b689f2b2017ed5f5d3d6415ea120c2467c8b376f7af42b436423d7"},
        Case{kEncryptedFidx, "b3e9b5b637edffe3c466a0b46969a24273b95ce43d758fc734a6e06fcf4967b6",
             "348571e12bbbedb529def1f1394316e338a01945d871df9ef792617ceb13d636",
             "688fed1e1fa195ddb1eb6c8f039e988c89be298416067d6d0ef20f4f43bf0679"}}) {
    SCOPED_TRACE(c.path);
    absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(ReadFileBytes(VectorPath(c.path)));
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ(index->kind(), IndexKind::kFixed);
    EXPECT_EQ(index->size(), 16782216u);
    EXPECT_EQ(index->chunk_size(), 4194304u);
    ASSERT_EQ(index->chunk_count(), 5u);
    EXPECT_EQ(index->DistinctChunkCount(), 4u);
    EXPECT_EQ(index->index_csum().Hex(), c.csum);
    EXPECT_EQ(index->digest(0).Hex(), c.digest0);
    EXPECT_EQ(index->digest(3), index->digest(0));
    EXPECT_EQ(index->digest(4).Hex(), c.digest4);
    EXPECT_EQ(index->range(3).begin, 12582912u);
    EXPECT_EQ(index->range(3).size(), 4194304u);
    EXPECT_EQ(index->range(4).begin, 16777216u);
    EXPECT_EQ(index->range(4).size(), 5000u);  // the short last chunk

    std::optional<ChunkLocation> loc = index->Locate(16782215);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->entry, 4u);
    EXPECT_EQ(loc->offset_in_chunk, 4999u);
    loc = index->Locate(4194304 * 2 + 17);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->entry, 2u);
    EXPECT_EQ(loc->offset_in_chunk, 17u);
    EXPECT_FALSE(index->Locate(16782216).has_value());

    std::vector<DigestCount> top = MostReferencedDigests(*index, 8);
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].digest.Hex(), c.digest0);
    EXPECT_EQ(top[0].count, 2u);
    EXPECT_EQ(top[0].size, 4194304u);
  }
}

TEST(PbsIndexWriters, FixedRoundTrip) {
  std::vector<ChunkDigest> digests = {NumberedDigest(1), NumberedDigest(2), NumberedDigest(1)};
  IndexHeaderFields header{NewIndexUuid(), 1767225600};
  absl::StatusOr<std::string> file = EncodeFixedIndex(2 * 4096 + 100, 4096, digests, header);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 4096u + 3 * 32);
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*file);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->kind(), IndexKind::kFixed);
  EXPECT_EQ(index->uuid(), header.uuid);
  EXPECT_EQ(index->ctime(), 1767225600);
  EXPECT_EQ(index->size(), 2u * 4096 + 100);
  EXPECT_EQ(index->digests(), digests);
  EXPECT_EQ(index->range(2).size(), 100u);
  EXPECT_EQ(index->index_csum(), Sha256(std::string_view(*file).substr(4096)));
}

TEST(PbsIndexWriters, DynamicRoundTrip) {
  std::vector<DynamicEntry> entries = {
      {1000, NumberedDigest(1)}, {1500, NumberedDigest(2)}, {9000, NumberedDigest(3)}};
  IndexHeaderFields header{NewIndexUuid(), -5};
  absl::StatusOr<std::string> file = EncodeDynamicIndex(entries, header);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 4096u + 3 * 40);
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*file);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->kind(), IndexKind::kDynamic);
  EXPECT_EQ(index->ctime(), -5);
  EXPECT_EQ(index->size(), 9000u);
  EXPECT_EQ(index->range(1).begin, 1000u);
  EXPECT_EQ(index->range(1).end, 1500u);
  EXPECT_EQ(index->digest(2), NumberedDigest(3));
  EXPECT_EQ(index->Locate(1499)->entry, 1u);
  EXPECT_EQ(index->Locate(1500)->entry, 2u);
  EXPECT_EQ(index->Locate(1500)->offset_in_chunk, 0u);
}

TEST(PbsIndexWriters, EmptyIndexesAreValid) {
  absl::StatusOr<std::string> fixed = EncodeFixedIndex(0, 4194304, {}, {});
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(*fixed);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->chunk_count(), 0u);
  EXPECT_FALSE(index->Locate(0).has_value());

  absl::StatusOr<std::string> dynamic = EncodeDynamicIndex({}, {});
  ASSERT_TRUE(dynamic.ok()) << dynamic.status();
  index = ChunkIndex::Parse(*dynamic);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->size(), 0u);
  EXPECT_FALSE(index->Locate(0).has_value());
  EXPECT_TRUE(MostReferencedDigests(*index, 8).empty());
}

TEST(PbsIndexWriters, RefuseInconsistentInput) {
  absl::StatusOr<std::string> file = EncodeFixedIndex(4097, 4096, {NumberedDigest(1)}, {});
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(file.status()), HasSubstr("needs 2 digests, got 1"));

  file = EncodeFixedIndex(4096, 3000, {NumberedDigest(1), NumberedDigest(2)}, {});
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(Message(file.status()), HasSubstr("3000 is not a power of two"));

  file = EncodeDynamicIndex({{10, NumberedDigest(1)}, {10, NumberedDigest(2)}}, {});
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(Message(file.status()), HasSubstr("entry 1 ends at 10, not after 10"));
}

// Rewrites the stored checksum so that only the check under test fails.
void ResealChecksum(std::string& file) {
  ChunkDigest csum = Sha256(std::string_view(file).substr(4096));
  std::memcpy(file.data() + 32, csum.bytes.data(), 32);
}

class PbsCorruptIndexTest : public ::testing::Test {
 protected:
  std::string fixed_ = ReadFileBytes(VectorPath(kPlainFidx));
  std::string dynamic_ = ReadFileBytes(VectorPath(kUpstreamDidx));

  std::string ParseError(std::string_view file) {
    absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(file);
    EXPECT_FALSE(index.ok());
    if (index.ok()) return "";
    EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
    return Message(index.status());
  }
};

TEST_F(PbsCorruptIndexTest, BadChecksum) {
  fixed_[4096 + 40] ^= 1;
  EXPECT_THAT(ParseError(fixed_),
              HasSubstr("index checksum mismatch (stored "
                        "41f1ecbf7bbab699a3e3f20b728dbf8ce0105cfb8f27892a773dced1fd210f59, "
                        "computed "));
  dynamic_[32] ^= 1;
  EXPECT_THAT(ParseError(dynamic_), HasSubstr("index checksum mismatch"));
}

TEST_F(PbsCorruptIndexTest, SizeThatDoesNotMatchTheEntries) {
  // One byte more than 4 chunks + 5000 still needs 5 entries; 4 whole chunks need only 4.
  std::string file = fixed_;
  uint64_t size = 4 * 4194304;
  std::memcpy(file.data() + 64, &size, 8);
  EXPECT_THAT(ParseError(file), HasSubstr("got unexpected file size (4256 != 4224"));

  file = fixed_ + std::string(32, '\0');
  ResealChecksum(file);
  EXPECT_THAT(ParseError(file), HasSubstr("got unexpected file size (4288 != 4256"));

  file = fixed_;
  size = UINT64_MAX;
  std::memcpy(file.data() + 64, &size, 8);
  EXPECT_THAT(ParseError(file), HasSubstr("got unexpected file size (4256 != "));
}

TEST_F(PbsCorruptIndexTest, DynamicSizeNotWholeEntries) {
  std::string file = dynamic_ + std::string(7, '\0');
  ResealChecksum(file);
  EXPECT_THAT(ParseError(file),
              HasSubstr("got unexpected file size (8103 bytes is not the 4096-byte header plus "
                        "whole 40-byte entries)"));
}

TEST_F(PbsCorruptIndexTest, NonMonotonicEndOffsets) {
  std::string file = dynamic_;
  uint64_t end = 1048608 - 1;  // entry 1 now ends before entry 0
  std::memcpy(file.data() + 4096 + 40, &end, 8);
  ResealChecksum(file);
  EXPECT_THAT(ParseError(file), HasSubstr("end offsets are not strictly increasing: entry 1 "
                                          "ends at 1048607, not after 1048608"));

  end = 0;  // a zero-length first chunk
  file = dynamic_;
  std::memcpy(file.data() + 4096, &end, 8);
  ResealChecksum(file);
  EXPECT_THAT(ParseError(file), HasSubstr("entry 0 ends at 0"));
}

TEST_F(PbsCorruptIndexTest, ChunkSizeNotAPowerOfTwo) {
  for (uint64_t chunk_size : {uint64_t{0}, uint64_t{4194303}, uint64_t{3} << 20}) {
    std::string file = fixed_;
    std::memcpy(file.data() + 72, &chunk_size, 8);
    EXPECT_THAT(ParseError(file),
                HasSubstr(absl::StrCat("chunk size ", chunk_size, " is not a power of two")));
  }
}

TEST_F(PbsCorruptIndexTest, TruncatedHeaderAndWrongMagic) {
  EXPECT_THAT(ParseError(fixed_.substr(0, 4095)),
              HasSubstr("index too small (4095 bytes, the header alone is 4096)"));
  EXPECT_THAT(ParseError(dynamic_.substr(0, 100)), HasSubstr("index too small (100 bytes"));
  EXPECT_THAT(ParseError(""), HasSubstr("index too small (0 bytes"));
  std::string blob = ReadFileBytes(VectorPath("blobs/plain-uncompressed.blob"));
  EXPECT_THAT(ParseError(blob), HasSubstr("wrong magic 42ab3807be8370a1"));
}

TEST_F(PbsCorruptIndexTest, EveryTruncationFailsCleanly) {
  for (size_t len = 0; len < dynamic_.size(); len += 7) {
    EXPECT_FALSE(ChunkIndex::Parse(std::string_view(dynamic_).substr(0, len)).ok()) << len;
  }
  for (size_t len = 0; len < fixed_.size(); len += 5) {
    EXPECT_FALSE(ChunkIndex::Parse(std::string_view(fixed_).substr(0, len)).ok()) << len;
  }
}

TEST(PbsIndexKindOfArchiveName, ByExtension) {
  EXPECT_EQ(IndexKindOfArchive("drive-scsi0.img.fidx").value(), IndexKind::kFixed);
  EXPECT_EQ(IndexKindOfArchive("root.pxar.didx").value(), IndexKind::kDynamic);
  absl::StatusOr<IndexKind> blob = IndexKindOfArchive("index.json.blob");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PbsMostReferenced, HottestDigestComesFirstUnlikeUpstream) {
  // One digest ×1000 and twelve others ×3…×14: upstream's find_most_used_chunks(8) drops
  // the ×1000 digest; ours must rank it first.
  std::vector<DynamicEntry> entries;
  uint64_t end = 0;
  auto add = [&](const ChunkDigest& d) { entries.push_back({end += 100, d}); };
  ChunkDigest hot = NumberedDigest(500);
  for (int i = 0; i < 1000; ++i) add(hot);
  for (int k = 0; k < 12; ++k) {
    for (int i = 0; i < 3 + k; ++i) add(NumberedDigest(k + 1));
  }
  for (int k = 0; k < 20; ++k) add(NumberedDigest(600 + k));  // singletons
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(EncodeDynamicIndex(entries, {}).value());
  ASSERT_TRUE(index.ok()) << index.status();

  std::vector<DigestCount> top = MostReferencedDigests(*index, 8);
  ASSERT_EQ(top.size(), 8u);
  EXPECT_EQ(top[0].digest, hot);
  EXPECT_EQ(top[0].count, 1000u);
  EXPECT_EQ(top[0].size, 100u);
  for (size_t i = 1; i < top.size(); ++i) {
    // ×14, ×13, … ×8: digest k+1 has 3+k references.
    EXPECT_EQ(top[i].count, 15u - i) << i;
    EXPECT_EQ(top[i].digest, NumberedDigest(static_cast<int>(12 - i + 1))) << i;
  }
  EXPECT_EQ(MostReferencedDigests(*index, 100).size(), 13u);  // singletons excluded
  EXPECT_TRUE(MostReferencedDigests(*index, 0).empty());
}

TEST(PbsMostReferenced, TiesKeepFirstAppearanceOrder) {
  std::vector<DynamicEntry> entries;
  uint64_t end = 0;
  for (int n : {7, 3, 9, 3, 9, 7, 5}) entries.push_back({end += 10, NumberedDigest(n)});
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(EncodeDynamicIndex(entries, {}).value());
  ASSERT_TRUE(index.ok());
  std::vector<DigestCount> top = MostReferencedDigests(*index, 8);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].digest, NumberedDigest(7));
  EXPECT_EQ(top[1].digest, NumberedDigest(3));
  EXPECT_EQ(top[2].digest, NumberedDigest(9));
}

TEST(PbsNewIndexUuid, IsRandomV4) {
  std::array<uint8_t, 16> a = NewIndexUuid(), b = NewIndexUuid();
  EXPECT_NE(a, b);
  EXPECT_EQ(a[6] >> 4, 4);
  EXPECT_EQ(a[8] >> 6, 2);
}

}  // namespace
}  // namespace chunkcache
