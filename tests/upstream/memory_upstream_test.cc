// MemoryUpstream beyond the conformance suite: read counting, chunk encoding, removal.
#include "upstream/memory_upstream.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "format/blob.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

TEST(MemoryUpstream, CountsChunkReadsPerDigestIncludingMisses) {
  MemoryUpstream upstream;
  const ChunkDigest present = Sha256("present");
  const ChunkDigest absent = Sha256("absent");
  upstream.AddChunk(present, "blob");
  EXPECT_EQ(upstream.ChunkReadCount(present), 0u);
  ASSERT_TRUE(upstream.ReadChunk(present).ok());
  ASSERT_TRUE(upstream.ReadChunk(present).ok());
  EXPECT_TRUE(absl::IsNotFound(upstream.ReadChunk(absent).status()));
  EXPECT_EQ(upstream.ChunkReadCount(present), 2u);
  EXPECT_EQ(upstream.ChunkReadCount(absent), 1u);
  EXPECT_EQ(upstream.TotalChunkReads(), 3u);
  upstream.ResetReadCounts();
  EXPECT_EQ(upstream.ChunkReadCount(present), 0u);
  EXPECT_EQ(upstream.TotalChunkReads(), 0u);
}

TEST(MemoryUpstream, CountsConcurrentReadsExactly) {
  MemoryUpstream upstream;
  const ChunkDigest digest = Sha256("x");
  upstream.AddChunk(digest, std::string(64 * 1024, 'x'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ASSERT_TRUE(upstream.ReadChunk(digest).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(upstream.ChunkReadCount(digest), 800u);
}

TEST(MemoryUpstream, AddChunkDataStoresADecodableBlobUnderItsDigest) {
  MemoryUpstream upstream;
  const std::string data = testing::PseudoRandomBytes(10000, 7);
  absl::StatusOr<ChunkDigest> digest = upstream.AddChunkData(data);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256(data));
  absl::StatusOr<std::string> blob = upstream.ReadChunk(*digest);
  ASSERT_TRUE(blob.ok());
  absl::StatusOr<std::string> decoded = DecodeBlob(*blob, {.expected_digest = *digest});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, data);

  RawKey raw{};
  raw[0] = 1;
  const CryptConfig key = CryptConfig::FromRawKey(raw);
  absl::StatusOr<ChunkDigest> encrypted = upstream.AddChunkData(data, &key);
  ASSERT_TRUE(encrypted.ok());
  EXPECT_EQ(*encrypted, key.ChunkDigestOf(data));
  EXPECT_NE(*encrypted, *digest);
  absl::StatusOr<std::string> decrypted =
      DecodeBlob(*upstream.ReadChunk(*encrypted), {.key = &key, .expected_digest = *encrypted});
  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_EQ(*decrypted, data);
  EXPECT_EQ(upstream.chunk_count(), 2u);
}

TEST(MemoryUpstream, RemovedChunkIsNotFound) {
  MemoryUpstream upstream;
  const ChunkDigest digest = Sha256("x");
  upstream.AddChunk(digest, "blob");
  EXPECT_TRUE(upstream.RemoveChunk(digest));
  EXPECT_FALSE(upstream.RemoveChunk(digest));
  EXPECT_TRUE(absl::IsNotFound(upstream.ReadChunk(digest).status()));
}

TEST(MemoryUpstream, RejectsInvalidNamesWhenAdding) {
  MemoryUpstream upstream;
  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse("vm/100/2026-01-01T00:00:00Z");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(upstream.AddSnapshotFile(*snapshot, "../x.fidx", "x")));
  SnapshotName bad = *snapshot;
  bad.backup_type = "../vm";
  EXPECT_TRUE(absl::IsInvalidArgument(upstream.AddSnapshotFile(bad, "x.fidx", "x")));
  absl::StatusOr<std::vector<SnapshotName>> listed = upstream.ListSnapshots();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(upstream.Describe(), "memory");
}

}  // namespace
}  // namespace chunkcache
