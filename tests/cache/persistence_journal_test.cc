// PersistenceJournal: replay, overlaps, torn and corrupt logs.
#include "cache/internal/persistence_journal.h"

#include <filesystem>
#include <string>

#include "format/digest.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache::internal {
namespace {

using ::chunkcache::testing::ReadFileBytes;
using ::chunkcache::testing::ScratchDir;
using ::chunkcache::testing::WriteFileBytes;

PersistedEntry Entry(std::string_view name, uint64_t start_page, uint64_t size) {
  PersistedEntry e;
  e.digest = Sha256(name);
  e.cache_key = e.digest;
  e.start_page = start_page;
  e.size = size;
  return e;
}

TEST(PersistenceJournalTest, MissingFileIsEmpty) {
  ScratchDir dir;
  JournalLoadResult loaded = PersistenceJournal::Load(dir / "none", 100);
  EXPECT_TRUE(loaded.live.empty());
  EXPECT_FALSE(loaded.torn);
}

TEST(PersistenceJournalTest, ReplaysInsertsAndRemoves) {
  ScratchDir dir;
  const auto path = dir / "journal";
  {
    auto journal = PersistenceJournal::Rewrite(path, {Entry("a", 0, 5000)});
    ASSERT_TRUE(journal.ok()) << journal.status();
    ASSERT_TRUE((*journal)->AppendInsert(Entry("b", 2, 4096)).ok());
    ASSERT_TRUE((*journal)->AppendInsert(Entry("c", 3, 100)).ok());
    ASSERT_TRUE((*journal)->AppendRemove(Sha256("b"), 2).ok());
    ASSERT_TRUE((*journal)->AppendRemove(Sha256("c"), 99).ok());  // wrong extent: ignored
    EXPECT_EQ((*journal)->records(), 5u);
  }
  JournalLoadResult loaded = PersistenceJournal::Load(path, 100);
  EXPECT_FALSE(loaded.torn);
  ASSERT_EQ(loaded.live.size(), 2u);
  EXPECT_EQ(loaded.live[0].digest, Sha256("a"));
  EXPECT_EQ(loaded.live[0].size, 5000u);
  EXPECT_EQ(loaded.live[1].digest, Sha256("c"));
  EXPECT_EQ(loaded.live[1].start_page, 3u);
}

TEST(PersistenceJournalTest, LaterInsertWinsOverAnOverlappingEntry) {
  ScratchDir dir;
  const auto path = dir / "journal";
  {
    auto journal = PersistenceJournal::Rewrite(path, {Entry("old", 10, 3 * 4096)});
    ASSERT_TRUE(journal.ok());
    // The old entry's remove was lost; its pages 10..12 were reused from page 12 on.
    ASSERT_TRUE((*journal)->AppendInsert(Entry("new", 12, 4096)).ok());
  }
  JournalLoadResult loaded = PersistenceJournal::Load(path, 100);
  ASSERT_EQ(loaded.live.size(), 1u);
  EXPECT_EQ(loaded.live[0].digest, Sha256("new"));
  EXPECT_EQ(loaded.dropped, 1u);
}

TEST(PersistenceJournalTest, TornTailKeepsTheRecordsBeforeIt) {
  ScratchDir dir;
  const auto path = dir / "journal";
  {
    auto journal = PersistenceJournal::Rewrite(path, {Entry("a", 0, 10), Entry("b", 1, 10)});
    ASSERT_TRUE(journal.ok());
    ASSERT_TRUE((*journal)->AppendInsert(Entry("c", 2, 10)).ok());
  }
  std::string bytes = ReadFileBytes(path);
  WriteFileBytes(path, bytes.substr(0, bytes.size() - 7));  // cut the last record short
  JournalLoadResult loaded = PersistenceJournal::Load(path, 100);
  EXPECT_TRUE(loaded.torn);
  ASSERT_EQ(loaded.live.size(), 2u);
  EXPECT_EQ(loaded.live[1].digest, Sha256("b"));
}

TEST(PersistenceJournalTest, CorruptRecordEndsTheLog) {
  ScratchDir dir;
  const auto path = dir / "journal";
  {
    auto journal = PersistenceJournal::Rewrite(
        path, {Entry("a", 0, 10), Entry("b", 1, 10), Entry("c", 2, 10)});
    ASSERT_TRUE(journal.ok());
  }
  std::string bytes = ReadFileBytes(path);
  const size_t record = (bytes.size() - 16) / 3;
  bytes[16 + record + 40] ^= 0x01;  // inside b's record
  WriteFileBytes(path, bytes);
  JournalLoadResult loaded = PersistenceJournal::Load(path, 100);
  EXPECT_TRUE(loaded.torn);
  ASSERT_EQ(loaded.live.size(), 1u);
  EXPECT_EQ(loaded.live[0].digest, Sha256("a"));
}

TEST(PersistenceJournalTest, GarbageHeaderIsEmptyAndEntriesOutsideTheArenaAreDropped) {
  ScratchDir dir;
  WriteFileBytes(dir / "garbage", "not a journal at all, just text");
  JournalLoadResult garbage = PersistenceJournal::Load(dir / "garbage", 100);
  EXPECT_TRUE(garbage.live.empty());
  EXPECT_TRUE(garbage.torn);

  const auto path = dir / "journal";
  ASSERT_TRUE(
      PersistenceJournal::Rewrite(path, {Entry("in", 0, 4096), Entry("out", 9, 8192)}).ok());
  JournalLoadResult loaded = PersistenceJournal::Load(path, 10);  // a smaller arena now
  ASSERT_EQ(loaded.live.size(), 1u);
  EXPECT_EQ(loaded.live[0].digest, Sha256("in"));
  EXPECT_EQ(loaded.dropped, 1u);
}

}  // namespace
}  // namespace chunkcache::internal
