// chunkcached reading from the test PBS server (tests/pbs/pbs_test_server.py) while the server
// misbehaves in the middle of a restore: GOAWAY, RST_STREAM on a chunk, an expired ticket
// (password login), chunks that never come, a crash and restart on the same port, a chunk the
// server cannot read (400). Each restore either completes byte-exact or fails with the code
// README.md documents ("Reading from a PBS server"); nothing waits forever. Also tiering: a rack
// chunkcached reading PBS, a node chunkcached reading the rack.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <future>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "format/chunk_index.h"
#include "tests/service/service_test_env.h"
#include "tests/upstream/pbs_test_server_process.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunkSize = 4194304;
constexpr uint64_t kImageSize = 9 * kChunkSize + 12345;  // 10 distinct chunks, the last short
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kArchive[] = "drive-scsi0.img.fidx";
constexpr char kPasswordUser[] = "restore@pbs";
constexpr char kPassword[] = "pw-0f1e2d3c";

class ServicePbsFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(kImageSize, 11);
    WriteFileBytes(dir_ / "disk.img", image_);
    CreateArchive(dir_ / "ds", kSnapshot, kArchive, dir_ / "disk.img");
    absl::StatusOr<ChunkIndex> index =
        ChunkIndex::Parse(ReadFileBytes(dir_ / "ds" / kSnapshot / kArchive));
    ASSERT_TRUE(index.ok()) << index.status();
    index_.emplace(*std::move(index));
    pbs_ =
        PbsTestServerProcess::Start({.datastores = {{"store1", dir_ / "ds"}},
                                     .passwords = {absl::StrCat(kPasswordUser, ":", kPassword)}});
    ASSERT_NE(pbs_, nullptr);
    WriteFileBytes(dir_ / "token", std::string(kPbsTestTokenSecret) + "\n");
    WriteFileBytes(dir_ / "password", std::string(kPassword) + "\n");
  }
  void TearDown() override {
    for (std::unique_ptr<ChunkcachedProcess>* process : {&server_, &node_}) {
      if (*process == nullptr) continue;
      const std::string log = (*process)->Log();
      EXPECT_EQ(log.find(kPbsTestTokenSecret), std::string::npos) << "the token was logged";
      EXPECT_EQ(log.find(kPassword), std::string::npos) << "the password was logged";
      EXPECT_EQ((*process)->Stop(SIGTERM), 0) << log;
    }
  }

  // chunkcached with datastore "pbs" = store1 on the test server, with the API token, or the
  // password when `password_login`; `timeout_seconds` 0 keeps the default (30).
  void StartChunkcached(bool password_login = false, int timeout_seconds = 0) {
    nlohmann::json pbs = {{"url", pbs_->url()},
                          {"datastore", "store1"},
                          {"authId", password_login ? kPasswordUser : kPbsTestTokenId},
                          {"secretFile", (dir_ / (password_login ? "password" : "token")).string()},
                          {"fingerprint", pbs_->fingerprint()}};
    if (timeout_seconds > 0) pbs["timeoutSeconds"] = timeout_seconds;
    const nlohmann::json config = {{"datastores", {{{"name", "pbs"}, {"pbs", pbs}}}}};
    WriteFileBytes(dir_ / "config.json", config.dump());
    server_ = ChunkcachedProcess::Start({"--config", (dir_ / "config.json").string()});
    ASSERT_NE(server_, nullptr);
    client_ = ConnectClient(server_->address());
  }

  // The whole archive in 1 MiB reads through `address`.
  absl::StatusOr<std::string> Restore(const std::string& address) {
    std::unique_ptr<ChunkCacheClient> client = ConnectClient(address);
    std::string out;
    for (uint64_t offset = 0; offset < kImageSize; offset += 1 << 20) {
      absl::StatusOr<std::string> piece =
          client->Read(Ref("pbs", kSnapshot, kArchive), offset,
                       std::min<uint64_t>(1 << 20, kImageSize - offset));
      if (!piece.ok()) return piece.status();
      out += *piece;
    }
    return out;
  }
  absl::StatusOr<std::string> Restore() { return Restore(server_->address()); }

  double PbsMetric(const std::string& name) const {
    return server_->Metric(name, {{"datastore", "pbs"}}).value_or(-1);
  }
  int64_t PbsStat(const std::string& name) const {
    const nlohmann::json stats = pbs_->Stats();
    return stats.contains(name) ? stats[name].get<int64_t>() : -1;
  }

  ScratchDir dir_;
  std::string image_;
  std::optional<ChunkIndex> index_;
  std::unique_ptr<PbsTestServerProcess> pbs_;
  std::unique_ptr<ChunkcachedProcess> server_;
  std::unique_ptr<ChunkcachedProcess> node_;
  std::unique_ptr<ChunkCacheClient> client_;
};

TEST_F(ServicePbsFaultTest, GoawayMidRestoreReconnectsAndRestoresExactly) {
  StartChunkcached();
  ASSERT_TRUE(pbs_->SetFaults({{"goaway_after_chunks", 2}}));
  absl::StatusOr<std::string> restored = Restore();
  ASSERT_TRUE(restored.ok()) << restored.status() << "\n" << server_->Log();
  EXPECT_TRUE(*restored == image_);
  EXPECT_GE(PbsStat("upgrades"), 2);
  EXPECT_GE(PbsMetric("chunkcache_pbs_reconnects_total"), 1) << server_->Metrics();
}

TEST_F(ServicePbsFaultTest, ResetStreamMidRestoreRetriesTheChunkAndRestoresExactly) {
  StartChunkcached();
  ASSERT_TRUE(pbs_->SetFaults({{"rst_stream_after_chunks", 2}}));
  absl::StatusOr<std::string> restored = Restore();
  ASSERT_TRUE(restored.ok()) << restored.status() << "\n" << server_->Log();
  EXPECT_TRUE(*restored == image_);
  // The reset chunk was asked for again (the server counts every /chunk request).
  EXPECT_GT(PbsStat("chunk_requests"), static_cast<int64_t>(index_->chunk_count()))
      << pbs_->Stats().dump();
  EXPECT_GE(PbsMetric("chunkcache_pbs_request_retries_total"), 1) << server_->Metrics();
}

TEST_F(ServicePbsFaultTest, ExpiredTicketIsRenewedByLoggingInAgain) {
  StartChunkcached(/*password_login=*/true);
  const v1::SnapshotRef ref = Ref("pbs", kSnapshot, kArchive);
  // Open the session (manifest and index, no chunk yet) with the first ticket.
  absl::StatusOr<v1::SnapshotInfo> info = client_->Stat(ref);
  ASSERT_TRUE(info.ok()) << info.status() << "\n" << server_->Log();
  const int64_t logins = PbsStat("logins");
  EXPECT_GE(logins, 1);
  // The ticket the session was opened with is no longer valid, and the connection goes: the
  // new session's upgrade needs a new ticket.
  ASSERT_TRUE(pbs_->SetFaults({{"expire_tickets", true}, {"drop_connection_after_chunks", 1}}));
  absl::StatusOr<std::string> restored = Restore();
  ASSERT_TRUE(restored.ok()) << restored.status() << "\n" << server_->Log();
  EXPECT_TRUE(*restored == image_);
  EXPECT_GT(PbsStat("logins"), logins) << pbs_->Stats().dump();
  EXPECT_GE(PbsMetric("chunkcache_pbs_logins_total"), 2) << server_->Metrics();
}

TEST_F(ServicePbsFaultTest, HangingChunksFailAfterTheTimeoutAndReadAgainLater) {
  StartChunkcached(/*password_login=*/false, /*timeout_seconds=*/3);
  ASSERT_TRUE(pbs_->SetFaults({{"hang_chunks", true}}));
  const v1::SnapshotRef ref = Ref("pbs", kSnapshot, kArchive);
  absl::StatusOr<std::string> hung = client_->Read(ref, 0, 4096);
  EXPECT_TRUE(absl::IsUnavailable(hung.status()) || absl::IsDeadlineExceeded(hung.status()))
      << hung.status();
  // chunkcached gave up on its own (its 3 s bound), not the client (30 s): the fetch ended as
  // an upstream error.
  EXPECT_GE(
      server_
          ->Metric("chunkcache_upstream_fetches_total", {{"datastore", "pbs"}, {"result", "error"}})
          .value_or(0),
      1)
      << server_->Metrics() << "\n"
      << server_->Log();
  ASSERT_TRUE(pbs_->ResetFaults());
  absl::StatusOr<std::string> restored = Restore();
  ASSERT_TRUE(restored.ok()) << restored.status() << "\n" << server_->Log();
  EXPECT_TRUE(*restored == image_);
}

TEST_F(ServicePbsFaultTest, ServerRestartMidRestoreRestoresExactlyOrIsUnavailable) {
  StartChunkcached();
  const v1::SnapshotRef ref = Ref("pbs", kSnapshot, kArchive);
  // The session is open and its first chunk read; then the server holds every /chunk request,
  // so that it dies with requests in flight whatever the machine's speed.
  ASSERT_TRUE(client_->Read(ref, 0, 4096).ok());
  ASSERT_TRUE(pbs_->SetFaults({{"hang_chunks", true}}));
  std::future<absl::StatusOr<std::string>> restore =
      std::async(std::launch::async, [this] { return Restore(); });
  const auto held = [this] {
    const nlohmann::json stats = pbs_->Stats();
    return stats["chunk_requests"].get<int64_t>() - stats["chunk_200"].get<int64_t>() -
           stats["chunk_400"].get<int64_t>() - stats["chunk_401"].get<int64_t>();
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (held() < 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(held(), 1) << pbs_->Stats().dump();
  ASSERT_TRUE(pbs_->Restart());  // a crash (no GOAWAY, no close_notify), then no faults
  absl::StatusOr<std::string> during = restore.get();
  if (during.ok()) {
    EXPECT_TRUE(*during == image_);
  } else {
    EXPECT_TRUE(absl::IsUnavailable(during.status())) << during.status();
  }
  absl::StatusOr<std::string> after = Restore();
  ASSERT_TRUE(after.ok()) << after.status() << "\n" << server_->Log();
  EXPECT_TRUE(*after == image_);
  // The chunks not fetched before the crash came from the restarted server, in a new session;
  // the ones fetched before (the first, at least) did not.
  EXPECT_GE(PbsStat("upgrades"), 1);
  EXPECT_GE(PbsStat("chunk_200"), 1);
  EXPECT_LE(PbsStat("chunk_200"), static_cast<int64_t>(index_->chunk_count()) - 1)
      << pbs_->Stats().dump();
  EXPECT_GE(PbsMetric("chunkcache_pbs_reconnects_total"), 1) << server_->Metrics();
}

TEST_F(ServicePbsFaultTest, ChunkTheServerCannotReadIsNotFoundAndLoggedWithItsDigest) {
  StartChunkcached();
  const std::string missing = index_->digest(0).Hex();
  ASSERT_TRUE(pbs_->SetFaults({{"missing_chunks", {missing}}}));
  const v1::SnapshotRef ref = Ref("pbs", kSnapshot, kArchive);
  absl::StatusOr<std::string> bad = client_->Read(ref, 0, 4096);
  EXPECT_TRUE(absl::IsNotFound(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find(missing), std::string::npos) << bad.status();
  const std::string log = server_->Log();
  EXPECT_NE(log.find("event=pbs_chunk_unreadable"), std::string::npos) << log;
  EXPECT_NE(log.find(missing), std::string::npos) << log;
  EXPECT_GE(PbsStat("chunk_400"), 1);
  // The other chunks still read.
  absl::StatusOr<std::string> good = client_->Read(ref, kChunkSize, 4096);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(*good == image_.substr(kChunkSize, 4096));
}

TEST_F(ServicePbsFaultTest, NodeReadingARackThatReadsPbsRestoresExactly) {
  StartChunkcached();  // the rack
  WriteFileBytes(dir_ / "node.json",
                 absl::StrCat(R"({"datastores": [{"name": "pbs", "remote": {"target": ")",
                              server_->address(), R"("}}]})"));
  node_ = ChunkcachedProcess::Start({"--config", (dir_ / "node.json").string()});
  ASSERT_NE(node_, nullptr);
  absl::StatusOr<std::string> restored = Restore(node_->address());
  ASSERT_TRUE(restored.ok()) << restored.status() << "\n" << node_->Log() << "\n" << server_->Log();
  EXPECT_TRUE(*restored == image_);
  // PBS sent each chunk once, to the rack.
  const nlohmann::json stats = pbs_->Stats();
  ASSERT_TRUE(stats.contains("chunk_requests_by_digest")) << stats.dump();
  EXPECT_EQ(stats["chunk_requests_by_digest"].size(), index_->chunk_count()) << stats.dump();
  for (const auto& [digest, requests] : stats["chunk_requests_by_digest"].items()) {
    EXPECT_EQ(requests.get<int64_t>(), 1) << digest;
  }
  EXPECT_GE(
      node_->Metric("chunkcache_upstream_fetches_total", {{"datastore", "pbs"}, {"result", "ok"}})
          .value_or(0),
      static_cast<double>(index_->chunk_count()));
}

}  // namespace
}  // namespace chunkcache::testing
