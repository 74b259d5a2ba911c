// PersistenceJournal::Rewrite is atomic and durable: the new log is complete under the old
// name, and its bytes are synced before the rename, the directory after it.
//
// The order of those system calls is what makes a rewrite survive a power cut, and a test
// cannot cut the power. This test binary defines fsync and rename itself: the journal code
// (linked statically into this executable) calls these definitions, which record each call
// (the inode synced, the names renamed) and then do the real system call. Nothing else in
// this binary syncs or renames while a test records.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "cache/internal/persistence_journal.h"
#include "format/digest.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace {

struct SyscallEvent {
  std::string call;  // "fsync" or "rename"
  ino_t inode = 0;   // fsync: the file or directory synced
  bool directory = false;
  std::string from;  // rename
  std::string to;
};

std::mutex events_mu;
std::vector<SyscallEvent> events;

void Record(SyscallEvent event) {
  std::lock_guard<std::mutex> lock(events_mu);
  events.push_back(std::move(event));
}

std::vector<SyscallEvent> TakeEvents() {
  std::lock_guard<std::mutex> lock(events_mu);
  return std::exchange(events, {});
}

}  // namespace

extern "C" int fsync(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    Record({.call = "fsync", .inode = st.st_ino, .directory = S_ISDIR(st.st_mode)});
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

extern "C" int rename(const char* from, const char* to) {
  Record({.call = "rename", .from = from, .to = to});
  return ::renameat(AT_FDCWD, from, AT_FDCWD, to);
}

namespace chunkcache::internal {
namespace {

using ::chunkcache::testing::ScratchDir;

PersistedEntry Entry(std::string_view name, uint64_t start_page, uint64_t size) {
  PersistedEntry e;
  e.digest = Sha256(name);
  e.cache_key = e.digest;
  e.start_page = start_page;
  e.size = size;
  return e;
}

ino_t InodeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST(PersistenceJournalDurabilityTest, RewriteSyncsTheFileRenamesThenSyncsTheDirectory) {
  ScratchDir dir;
  const std::filesystem::path path = dir / "arena.journal";
  TakeEvents();
  auto journal = PersistenceJournal::Rewrite(path, {Entry("a", 0, 5000), Entry("b", 2, 4096)});
  ASSERT_TRUE(journal.ok()) << journal.status();
  const std::vector<SyscallEvent> seen = TakeEvents();

  const ino_t journal_inode = InodeOf(path);
  const ino_t dir_inode = InodeOf(dir.path());
  int file_synced = -1;
  int renamed = -1;
  int dir_synced = -1;
  for (int i = 0; i < static_cast<int>(seen.size()); ++i) {
    const SyscallEvent& e = seen[i];
    if (e.call == "fsync" && !e.directory && e.inode == journal_inode) file_synced = i;
    if (e.call == "rename" && e.to == path.string()) renamed = i;
    if (e.call == "fsync" && e.directory && e.inode == dir_inode && renamed >= 0) dir_synced = i;
  }
  ASSERT_GE(renamed, 0) << "the new log does not replace the old one by rename";
  ASSERT_GE(file_synced, 0) << "the new log is never synced";
  EXPECT_LT(file_synced, renamed) << "the new log is renamed before its bytes are synced";
  EXPECT_GT(dir_synced, renamed) << "the directory is not synced after the rename";
}

TEST(PersistenceJournalDurabilityTest, RewriteReplacesTheLogWholeAndLeavesNoTemporaryFile) {
  ScratchDir dir;
  const std::filesystem::path path = dir / "arena.journal";
  {
    auto old = PersistenceJournal::Rewrite(path, {Entry("old", 0, 10)});
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE((*old)->AppendInsert(Entry("appended", 1, 10)).ok());
  }
  std::vector<PersistedEntry> live;
  for (int i = 0; i < 100; ++i) live.push_back(Entry(std::to_string(i), 2 * i, 4096 + i));
  auto journal = PersistenceJournal::Rewrite(path, live);
  ASSERT_TRUE(journal.ok()) << journal.status();
  // Appends after the rewrite go to the new log.
  ASSERT_TRUE((*journal)->AppendInsert(Entry("after", 500, 10)).ok());

  const JournalLoadResult loaded = PersistenceJournal::Load(path, 1000);
  EXPECT_FALSE(loaded.torn);
  ASSERT_EQ(loaded.live.size(), 101u);  // the old entries are gone, every new one is there
  EXPECT_EQ(loaded.live.front().digest, Sha256("0"));
  EXPECT_EQ(loaded.live.back().digest, Sha256("after"));
  std::vector<std::string> names;
  for (const auto& file : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(file.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"arena.journal"});
}

}  // namespace
}  // namespace chunkcache::internal
