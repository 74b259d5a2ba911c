// The cache is shared by snapshots and clients: a second snapshot of a VM fetches only the
// chunks that changed, and 32 clients reading the same cold range cause one upstream fetch
// per distinct chunk. Both are checked through /metrics.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;

double Fetches(const ChunkcachedProcess& server, const std::string& result) {
  return server
      .Metric("chunkcache_upstream_fetches_total", {{"datastore", "store"}, {"result", result}})
      .value_or(-1);
}

TEST(ServiceSharingTest, SecondSnapshotFetchesOnlyTheChunksThatDiffer) {
  ScratchDir dir;
  // Five chunks and a short one; the second backup changed chunk 2 and the short tail.
  const std::string first = PseudoRandomBytes(5 * kChunk + 3000, 11);
  std::string second = first;
  const std::string changed = PseudoRandomBytes(1000, 12);
  second.replace(2 * kChunk + 10, changed.size(), changed);
  second.replace(5 * kChunk + 100, 10, "0123456789");
  WriteFileBytes(dir / "first.img", first);
  WriteFileBytes(dir / "second.img", second);
  CreateArchive(dir / "ds", "vm/200/2026-02-01T00:00:00Z", "drive-scsi0.img.fidx",
                dir / "first.img");
  CreateArchive(dir / "ds", "vm/200/2026-02-02T00:00:00Z", "drive-scsi0.img.fidx",
                dir / "second.img");

  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string()});
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
  EXPECT_EQ(Fetches(*server, "ok"), 0);

  absl::StatusOr<std::string> read_first = client->Read(
      Ref("store", "vm/200/2026-02-01T00:00:00Z", "drive-scsi0.img.fidx"), 0, first.size());
  ASSERT_TRUE(read_first.ok()) << read_first.status();
  EXPECT_TRUE(*read_first == first);
  EXPECT_EQ(Fetches(*server, "ok"), 6);

  absl::StatusOr<std::string> read_second = client->Read(
      Ref("store", "vm/200/2026-02-02T00:00:00Z", "drive-scsi0.img.fidx"), 0, second.size());
  ASSERT_TRUE(read_second.ok()) << read_second.status();
  EXPECT_TRUE(*read_second == second);
  EXPECT_EQ(Fetches(*server, "ok"), 6 + 2) << "only chunk 2 and the tail differ";
  EXPECT_EQ(Fetches(*server, "error"), 0);
  EXPECT_EQ(Fetches(*server, "corrupt"), 0);
  // The four shared chunks were hits the second time.
  EXPECT_GE(server->Metric("chunkcache_chunk_lookups_total", {{"result", "hit"}}).value_or(0), 4);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

TEST(ServiceSharingTest, ConcurrentClientsOfOneColdRangeShareItsFetches) {
  ScratchDir dir;
  const std::string image = PseudoRandomBytes(4 * kChunk, 21);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", "vm/300/2026-03-01T00:00:00Z", "drive-scsi0.img.fidx",
                dir / "disk.img");
  // No readahead: the range's own chunks are the only ones fetched.
  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--datastore", "store=" + (dir / "ds").string(), "--no-readahead",
                                 "--max-read-bytes", "8MiB"});
  ASSERT_NE(server, nullptr);
  const v1::SnapshotRef ref = Ref("store", "vm/300/2026-03-01T00:00:00Z", "drive-scsi0.img.fidx");
  // Open the session first, so that all clients race for the chunks, not for the index.
  std::unique_ptr<ChunkCacheClient> opener = ConnectClient(server->address());
  ASSERT_TRUE(opener->Stat(ref).ok());
  ASSERT_EQ(Fetches(*server, "ok"), 0);

  // [4 MiB - 100, 8 MiB + 100): the end of chunk 0, all of chunk 1, the start of chunk 2.
  const uint64_t offset = kChunk - 100;
  const uint64_t length = kChunk + 200;
  constexpr int kClients = 32;
  absl::Barrier start(kClients);
  std::vector<std::string> results(kClients);
  std::vector<absl::Status> statuses(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<ChunkCacheClient> client = ConnectClient(server->address());
      start.Block();
      absl::StatusOr<v1::ReadRangeResponse> reply = client->ReadRange(ref, offset, length);
      statuses[i] = reply.status();
      if (reply.ok()) results[i] = reply->data();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i];
    EXPECT_TRUE(results[i] == image.substr(offset, length)) << "client " << i;
  }
  EXPECT_EQ(Fetches(*server, "ok"), 3) << "one fetch per distinct chunk, not one per client";
  const double misses =
      server->Metric("chunkcache_chunk_lookups_total", {{"result", "miss"}}).value_or(-1);
  const double coalesced =
      server->Metric("chunkcache_chunk_lookups_total", {{"result", "coalesced"}}).value_or(-1);
  const double hits =
      server->Metric("chunkcache_chunk_lookups_total", {{"result", "hit"}}).value_or(-1);
  EXPECT_EQ(misses, 3);
  EXPECT_EQ(misses + coalesced + hits, 3 * kClients);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
