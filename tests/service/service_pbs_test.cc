// chunkcached reading from a PBS server (the test server, tests/pbs/pbs_test_server.py, over
// real TLS and HTTP/2) with the flag form --pbs/--pbs-auth-id/--pbs-secret-file/
// --pbs-fingerprint: fixed, dynamic, encrypted and namespaced archives restored byte-exact,
// a connection dropped in the middle of a restore, and 64 concurrent readers of one cold chunk
// costing one /chunk request.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "format/chunk_index.h"
#include "tests/service/service_test_env.h"
#include "tests/upstream/pbs_test_server_process.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kImageSize = 9 * 4194304 + 12345;  // 10 chunks, the last one short

class ServicePbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(kImageSize, 7);
    WriteFileBytes(dir_ / "disk.img", image_);
    stream_ = PseudoRandomBytes(3 << 20, 8);
    WriteFileBytes(dir_ / "root.pxar", stream_);
    CreateKeyFile(dir_ / "key.json");
    const std::filesystem::path ds = dir_ / "ds";
    CreateArchive(ds, "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", dir_ / "disk.img");
    CreateArchive(ds, "ct/200/2026-01-01T00:00:00Z", "root.pxar.didx", dir_ / "root.pxar");
    CreateArchive(ds, "vm/300/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", dir_ / "disk.img",
                  dir_ / "key.json");
    CreateArchive(ds, "ns/prod/ns/db/vm/400/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
                  dir_ / "disk.img");
    pbs_ = PbsTestServerProcess::Start({.datastores = {{"store1", ds}}});
    ASSERT_NE(pbs_, nullptr);
    WriteFileBytes(dir_ / "secret", std::string(kPbsTestTokenSecret) + "\n");
    server_ = ChunkcachedProcess::Start(
        {"--pbs", "pbs=" + pbs_->url() + "/store1", "--pbs-auth-id", kPbsTestTokenId,
         "--pbs-secret-file", (dir_ / "secret").string(), "--pbs-fingerprint", pbs_->fingerprint(),
         "--keyfile", "pbs=" + (dir_ / "key.json").string()});
    ASSERT_NE(server_, nullptr);
    client_ = ConnectClient(server_->address());
  }
  void TearDown() override {
    if (server_ != nullptr) {
      const std::string log = server_->Log();
      EXPECT_EQ(log.find(kPbsTestTokenSecret), std::string::npos) << "the secret was logged";
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << log;
    }
  }
  // The whole archive in 1 MiB reads.
  absl::StatusOr<std::string> Restore(const std::string& snapshot, const std::string& archive,
                                      uint64_t size) {
    std::string out;
    for (uint64_t offset = 0; offset < size; offset += 1 << 20) {
      absl::StatusOr<std::string> piece = client_->Read(Ref("pbs", snapshot, archive), offset,
                                                        std::min<uint64_t>(1 << 20, size - offset));
      if (!piece.ok()) return piece.status();
      out += *piece;
    }
    return out;
  }

  ScratchDir dir_;
  std::string image_;
  std::string stream_;
  std::unique_ptr<PbsTestServerProcess> pbs_;
  std::unique_ptr<ChunkcachedProcess> server_;
  std::unique_ptr<ChunkCacheClient> client_;
};

TEST_F(ServicePbsTest, RestoresFixedDynamicEncryptedAndNamespacedArchivesExactly) {
  absl::StatusOr<std::string> fixed =
      Restore("vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", kImageSize);
  ASSERT_TRUE(fixed.ok()) << fixed.status() << "\n" << server_->Log();
  EXPECT_TRUE(*fixed == image_);
  absl::StatusOr<std::string> dynamic =
      Restore("ct/200/2026-01-01T00:00:00Z", "root.pxar.didx", stream_.size());
  ASSERT_TRUE(dynamic.ok()) << dynamic.status();
  EXPECT_TRUE(*dynamic == stream_);
  absl::StatusOr<std::string> encrypted =
      Restore("vm/300/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", kImageSize);
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  EXPECT_TRUE(*encrypted == image_);
  absl::StatusOr<std::string> namespaced =
      Restore("ns/prod/ns/db/vm/400/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", kImageSize);
  ASSERT_TRUE(namespaced.ok()) << namespaced.status();
  EXPECT_TRUE(*namespaced == image_);
  EXPECT_EQ(pbs_->Stats()["chunk_401"].get<int64_t>(), 0);
}

TEST_F(ServicePbsTest, MetricsCountConnectionsAndSessionsOfARestore) {
  absl::StatusOr<std::string> fixed =
      Restore("vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", kImageSize);
  ASSERT_TRUE(fixed.ok()) << fixed.status() << "\n" << server_->Log();
  const Labels pbs = {{"datastore", "pbs"}};
  // Without faults the sessions are the ones the server upgraded; each needed a connection
  // (API calls and health checks add theirs).
  const double sessions = server_->Metric("chunkcache_pbs_sessions_opened_total", pbs).value_or(0);
  EXPECT_GE(sessions, 1);
  EXPECT_EQ(sessions, pbs_->Stats()["upgrades"].get<double>());
  EXPECT_GE(server_->Metric("chunkcache_pbs_connections_total", pbs).value_or(0), sessions);
  EXPECT_GE(server_->Metric("chunkcache_pbs_sessions_open", pbs).value_or(0), 1);
  EXPECT_EQ(server_->Metric("chunkcache_pbs_reconnects_total", pbs), 0);
  EXPECT_EQ(server_->Metric("chunkcache_pbs_request_retries_total", pbs), 0);
  EXPECT_EQ(server_->Metric("chunkcache_pbs_upgrade_failures_total", pbs), 0);
  EXPECT_EQ(server_->Metric("chunkcache_pbs_logins_total", pbs), 0);  // an API token
  EXPECT_TRUE(server_->Metric("chunkcache_pbs_streams_in_flight", pbs).has_value());
  EXPECT_TRUE(server_->Metric("chunkcache_pbs_body_bytes_in_place_total", pbs).has_value());
}

TEST_F(ServicePbsTest, ConnectionDroppedMidRestoreStillRestoresExactly) {
  ASSERT_TRUE(pbs_->SetFaults({{"drop_connection_after_chunks", 3}}));
  absl::StatusOr<std::string> fixed =
      Restore("vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx", kImageSize);
  ASSERT_TRUE(fixed.ok()) << fixed.status() << "\n" << server_->Log();
  EXPECT_TRUE(*fixed == image_);
  EXPECT_GE(pbs_->Stats()["upgrades"].get<int64_t>(), 2);
  EXPECT_GE(server_->Metric("chunkcache_pbs_reconnects_total", {{"datastore", "pbs"}}).value_or(0),
            1)
      << server_->Metrics();
}

TEST_F(ServicePbsTest, CorruptChunkIsDataLossNeverServed) {
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(
      ReadFileBytes(dir_ / "ds" / "vm" / "100" / "2026-01-01T00:00:00Z" / "drive-scsi0.img.fidx"));
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(pbs_->SetFaults({{"corrupt_chunks", {index->digest(0).Hex()}}}));
  const v1::SnapshotRef ref = Ref("pbs", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx");
  absl::StatusOr<std::string> bad = client_->Read(ref, 0, 4096);
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();
  absl::StatusOr<std::string> good = client_->Read(ref, 4194304, 4096);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(*good == image_.substr(4194304, 4096));
}

TEST_F(ServicePbsTest, SixtyFourReadersOfOneColdChunkCostOneChunkRequest) {
  const v1::SnapshotRef ref = Ref("pbs", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx");
  // Open the archive first (manifest and index), so that the readers race for the chunk only.
  ASSERT_TRUE(client_->Read(ref, kImageSize - 1, 1).ok());
  const int64_t before = pbs_->Stats()["chunk_requests"].get<int64_t>();
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 64; ++i) {
    readers.emplace_back([&, i] {
      std::unique_ptr<ChunkCacheClient> client = ConnectClient(server_->address());
      const uint64_t offset = 4194304 * 4 + static_cast<uint64_t>(i) * 4096;
      absl::StatusOr<std::string> got = client->Read(ref, offset, 4096);
      if (!got.ok() || *got != image_.substr(offset, 4096)) ++wrong;
    });
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(wrong.load(), 0);
  // Readahead may fetch the chunks after it; the chunk itself is fetched once.
  absl::StatusOr<ChunkIndex> index = ChunkIndex::Parse(
      ReadFileBytes(dir_ / "ds" / "vm" / "100" / "2026-01-01T00:00:00Z" / "drive-scsi0.img.fidx"));
  ASSERT_TRUE(index.ok()) << index.status();
  const nlohmann::json stats = pbs_->Stats();
  EXPECT_EQ(stats["chunk_requests_by_digest"][index->digest(4).Hex()].get<int64_t>(), 1)
      << stats.dump();
  EXPECT_GE(stats["chunk_requests"].get<int64_t>() - before, 1);
}

}  // namespace
}  // namespace chunkcache::testing
