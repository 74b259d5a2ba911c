// Persistence: a restarted cache serves its arena again, re-verified; corrupt or torn data is
// dropped, never served; decrypted chunks stay only when allowed.
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cache/chunk_cache.h"
#include "cache/snapshot_session.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/testing/test_env.h"
#include "upstream/memory_upstream.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::AddChunk;
using ::chunkcache::testing::AddFixedSnapshot;
using ::chunkcache::testing::MakeSource;
using ::chunkcache::testing::OpenCache;
using ::chunkcache::testing::PseudoRandomBytes;
using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::SmallCacheOptions;
using ::chunkcache::testing::TestKey;
using ::chunkcache::testing::TestSnapshot;
using ::chunkcache::testing::WaitFor;
using ::chunkcache::testing::WriteFileBytes;

constexpr uint64_t kChunk = 64 * 1024;

class CachePersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_shared<MemoryUpstream>();
    source_ = MakeSource(upstream_);
    for (int i = 0; i < 3; ++i) {
      data_.push_back(PseudoRandomBytes(kChunk - 1000 * i, 10 + i));
      requests_.push_back(
          MakeChunkRequest(source_, AddChunk(*upstream_, data_.back()), data_.back().size()));
    }
  }
  ChunkCacheOptions Options(bool background_verify = false) {
    ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
    options.persist = true;
    options.verify_persisted_in_background = background_verify;
    return options;
  }
  void FillAndClose() {
    std::unique_ptr<ChunkCache> cache = OpenCache(Options());
    for (const ChunkRequest& r : requests_) ASSERT_TRUE(Get(*cache, r).ok());
  }
  static absl::StatusOr<ChunkHandle> Get(ChunkCache& cache, const ChunkRequest& r) {
    return cache.Get(r, absl::Now() + absl::Seconds(30));
  }
  // Flips one byte of chunk `i`'s bytes inside the arena file.
  void CorruptInArena(size_t i) {
    const std::filesystem::path arena = dir_ / "arena.data";
    std::string bytes = ReadFileBytes(arena);
    const size_t at = bytes.find(data_[i].substr(0, 256));
    ASSERT_NE(at, std::string::npos);
    bytes[at + 100] ^= 0x5a;
    WriteFileBytes(arena, bytes);
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> upstream_;
  std::shared_ptr<const ChunkSource> source_;
  std::vector<std::string> data_;
  std::vector<ChunkRequest> requests_;
};

TEST_F(CachePersistenceTest, RestartedCacheServesItsArenaWithoutFetching) {
  FillAndClose();
  upstream_->ResetReadCounts();
  std::unique_ptr<ChunkCache> cache = OpenCache(Options());
  EXPECT_EQ(cache->Stats().persisted_entries_loaded, 3u);
  EXPECT_EQ(cache->Stats().entries, 3u);
  for (size_t i = 0; i < requests_.size(); ++i) {
    EXPECT_TRUE(cache->Contains(requests_[i].cache_key));
    absl::StatusOr<ChunkHandle> chunk = Get(*cache, requests_[i]);
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    EXPECT_EQ(chunk->data(), data_[i]);
  }
  EXPECT_EQ(upstream_->TotalChunkReads(), 0u);
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.persisted_entries_verified, 3u);
  EXPECT_EQ(stats.lookups.hit, 3u);
}

TEST_F(CachePersistenceTest, CorruptArenaEntryIsDroppedAndRefetched) {
  FillAndClose();
  CorruptInArena(1);
  upstream_->ResetReadCounts();
  std::unique_ptr<ChunkCache> cache = OpenCache(Options());
  absl::StatusOr<ChunkHandle> chunk = Get(*cache, requests_[1]);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->data(), data_[1]);  // the good bytes, from the upstream
  EXPECT_EQ(upstream_->ChunkReadCount(requests_[1].digest), 1u);
  EXPECT_EQ(cache->Stats().persisted_entries_dropped, 1u);
  EXPECT_TRUE(Get(*cache, requests_[0]).ok());
  EXPECT_EQ(upstream_->TotalChunkReads(), 1u);
}

TEST_F(CachePersistenceTest, BackgroundVerificationDropsCorruptEntriesWithoutAReader) {
  FillAndClose();
  CorruptInArena(2);
  std::unique_ptr<ChunkCache> cache = OpenCache(Options(/*background_verify=*/true));
  ASSERT_TRUE(WaitFor([&] { return cache->Stats().persisted_entries_verified == 2; }));
  ASSERT_TRUE(WaitFor([&] { return cache->Stats().persisted_entries_dropped == 1; }));
  EXPECT_FALSE(cache->Contains(requests_[2].cache_key));
  EXPECT_TRUE(cache->Contains(requests_[0].cache_key));
  EXPECT_EQ(Get(*cache, requests_[2])->data(), data_[2]);
}

TEST_F(CachePersistenceTest, TornJournalLosesOnlyTheTornEntries) {
  FillAndClose();
  const std::filesystem::path journal = dir_ / "arena.journal";
  std::string bytes = ReadFileBytes(journal);
  WriteFileBytes(journal, bytes.substr(0, bytes.size() - 30));  // the last record is torn
  upstream_->ResetReadCounts();
  std::unique_ptr<ChunkCache> cache = OpenCache(Options());
  EXPECT_EQ(cache->Stats().persisted_entries_loaded, 2u);
  for (size_t i = 0; i < requests_.size(); ++i) {
    EXPECT_EQ(Get(*cache, requests_[i])->data(), data_[i]);
  }
  EXPECT_EQ(upstream_->TotalChunkReads(), 1u);
}

TEST_F(CachePersistenceTest, GarbageJournalStartsEmpty) {
  FillAndClose();
  WriteFileBytes(dir_ / "arena.journal", std::string(500, '\x7f'));
  std::unique_ptr<ChunkCache> cache = OpenCache(Options());
  EXPECT_EQ(cache->Stats().entries, 0u);
  EXPECT_EQ(Get(*cache, requests_[0])->data(), data_[0]);
}

TEST_F(CachePersistenceTest, EvictedEntriesStayEvictedAfterRestart) {
  {
    ChunkCacheOptions options = Options();
    options.capacity_bytes = 2 * kChunk;
    std::unique_ptr<ChunkCache> cache = OpenCache(options);
    for (const ChunkRequest& r : requests_) ASSERT_TRUE(Get(*cache, r).ok());
    EXPECT_EQ(cache->Stats().entries, 2u);
  }
  ChunkCacheOptions options = Options();
  options.capacity_bytes = 2 * kChunk;
  std::unique_ptr<ChunkCache> cache = OpenCache(options);
  EXPECT_EQ(cache->Stats().entries, 2u);
  EXPECT_FALSE(cache->Contains(requests_[0].cache_key));  // evicted first, by LRU
  EXPECT_EQ(Get(*cache, requests_[2])->data(), data_[2]);
  EXPECT_EQ(Get(*cache, requests_[1])->data(), data_[1]);
}

TEST_F(CachePersistenceTest, WithoutPersistenceNothingIsNamedOrKept) {
  FillAndClose();
  ASSERT_TRUE(std::filesystem::exists(dir_ / "arena.data"));
  ChunkCacheOptions options = Options();
  options.persist = false;
  std::unique_ptr<ChunkCache> cache = OpenCache(options);
  EXPECT_EQ(cache->Stats().entries, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "arena.data"));  // may have held plaintext
  EXPECT_FALSE(std::filesystem::exists(dir_ / "arena.journal"));
  ASSERT_TRUE(Get(*cache, requests_[0]).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "arena.data"));
}

TEST_F(CachePersistenceTest, TurningPersistenceOffClearsTheOldArenaBytesNotOnlyItsName) {
  FillAndClose();
  // Another link to the old arena (a backup tool's, a hard link an attacker made) sees what
  // the cache leaves in the file's blocks.
  ScratchDir elsewhere;
  const std::filesystem::path link = elsewhere / "arena.link";
  std::filesystem::create_hard_link(dir_ / "arena.data", link);
  ASSERT_NE(ReadFileBytes(link).find(data_[0].substr(0, 256)), std::string::npos);

  ChunkCacheOptions options = Options();
  options.persist = false;
  std::unique_ptr<ChunkCache> cache = OpenCache(options);
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "arena.data"));
  struct stat st {};
  ASSERT_EQ(::stat(link.c_str(), &st), 0);
  EXPECT_EQ(st.st_blocks, 0);
  EXPECT_EQ(st.st_size, 0);
  const std::string left = ReadFileBytes(link);
  for (const std::string& chunk : data_) {
    EXPECT_EQ(left.find(chunk.substr(0, 256)), std::string::npos);
  }
}

class EncryptedPersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_shared<MemoryUpstream>();
    key_ = TestKey();
    image_ = PseudoRandomBytes(3 * kChunk, 77);
    ASSERT_TRUE(AddFixedSnapshot(*upstream_, TestSnapshot(5000), "drive-scsi0.img.fidx", image_,
                                 kChunk, key_.get())
                    .ok());
  }
  ChunkCacheOptions Options(bool persist_encrypted) {
    ChunkCacheOptions options = SmallCacheOptions(dir_.path(), 4 << 20);
    options.persist = true;
    options.persist_encrypted = persist_encrypted;
    options.verify_persisted_in_background = false;
    return options;
  }
  absl::StatusOr<std::string> ReadAll(ChunkCache& cache) {
    SessionOptions session_options;
    session_options.hinted_chunks = 0;
    auto session =
        SnapshotSession::Open(&cache, DatastoreRef{"enc", upstream_, key_}, TestSnapshot(5000),
                              "drive-scsi0.img.fidx", session_options);
    if (!session.ok()) return session.status();
    absl::StatusOr<RangeRead> read =
        (*session)->Read(0, image_.size(), absl::Now() + absl::Seconds(30));
    if (!read.ok()) return read.status();
    return read->CopyBytes();
  }

  ScratchDir dir_;
  std::shared_ptr<MemoryUpstream> upstream_;
  std::shared_ptr<const CryptConfig> key_;
  std::string image_;
};

TEST_F(EncryptedPersistenceTest, DecryptedChunksAreNotKeptUnlessAllowed) {
  {
    std::unique_ptr<ChunkCache> cache = OpenCache(Options(false));
    ASSERT_EQ(*ReadAll(*cache), image_);
  }
  // The plaintext is gone from the arena file, and nothing is reloaded.
  EXPECT_EQ(ReadFileBytes(dir_ / "arena.data").find(image_.substr(kChunk, 512)), std::string::npos);
  upstream_->ResetReadCounts();
  std::unique_ptr<ChunkCache> cache = OpenCache(Options(false));
  EXPECT_EQ(cache->Stats().entries, 0u);
  ASSERT_EQ(*ReadAll(*cache), image_);
  EXPECT_EQ(upstream_->TotalChunkReads(), 3u);
}

TEST_F(EncryptedPersistenceTest, DecryptedChunksNeverEnterTheNamedArenaWhileCached) {
  std::unique_ptr<ChunkCache> cache = OpenCache(Options(false));
  ASSERT_EQ(*ReadAll(*cache), image_);
  ASSERT_EQ(cache->Stats().entries, 3u);  // cached and served from the cache...
  // ...but not from the named file, where a power cut would leave it: every chunk's
  // plaintext is absent from arena.data while the cache is running.
  const std::string named = ReadFileBytes(dir_ / "arena.data");
  for (uint64_t at = 0; at < image_.size(); at += kChunk) {
    EXPECT_EQ(named.find(image_.substr(at, 512)), std::string::npos) << "chunk at " << at;
  }
  // A plain archive in the same cache is still persisted in the named file.
  auto plain = std::make_shared<MemoryUpstream>();
  const std::string plain_bytes = PseudoRandomBytes(kChunk, 78);
  ChunkRequest request = MakeChunkRequest(MakeSource(plain), AddChunk(*plain, plain_bytes), kChunk);
  ASSERT_TRUE(cache->Get(request, absl::Now() + absl::Seconds(30)).ok());
  EXPECT_NE(ReadFileBytes(dir_ / "arena.data").find(plain_bytes.substr(0, 512)), std::string::npos);
  // Hits still read the decrypted bytes.
  ASSERT_EQ(*ReadAll(*cache), image_);
}

TEST_F(EncryptedPersistenceTest, AllowedDecryptedChunksAreReverifiedWithTheKey) {
  {
    std::unique_ptr<ChunkCache> cache = OpenCache(Options(true));
    ASSERT_EQ(*ReadAll(*cache), image_);
  }
  upstream_->ResetReadCounts();
  std::unique_ptr<ChunkCache> cache = OpenCache(Options(true));
  EXPECT_EQ(cache->Stats().persisted_entries_loaded, 3u);
  ASSERT_EQ(*ReadAll(*cache), image_);
  EXPECT_EQ(upstream_->TotalChunkReads(), 0u);
  EXPECT_EQ(cache->Stats().persisted_entries_verified, 3u);
}

}  // namespace
}  // namespace chunkcache
