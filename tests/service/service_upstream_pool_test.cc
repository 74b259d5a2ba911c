// Blocking upstream work runs on the service's pool of upstream-call threads, not on gRPC's
// callback threads. A chunkcached in this process (ChunkCacheServer) reads its datastore
// through a FaultyUpstream whose calls the tests hold, and real gRPC clients check: calls on an
// archive that is open already and health checks are answered while opens hang; a pending open
// is cancelled by the client, by its deadline and by shutdown, each answered while the open
// still hangs; concurrent opens of one archive read its manifest and index once (counted in
// the upstream's calls); a full queue answers RESOURCE_EXHAUSTED.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "chunkcache/v1/config.pb.h"
#include "service/chunkcache_server.h"
#include "service/server_settings.h"
#include "tests/service/faulty_upstream_server.h"
#include "tests/service/service_test_env.h"
#include "upstream/faulty_upstream.h"
#include "upstream/upstream.h"

namespace chunkcache::testing {
namespace {

constexpr auto kFailsafe = std::chrono::seconds(60);
// Opening and reading all of one archive reads from the upstream: the manifest, the index and
// its one chunk, once each.
constexpr uint64_t kUpstreamReadsOfOneArchive = 3;

// One unary call issued with the callback API, to be waited for (or cancelled) later.
template <typename Response>
struct PendingCall {
  grpc::ClientContext context;
  Response response;
  std::promise<grpc::Status> promise;
  std::future<grpc::Status> done = promise.get_future();

  bool finished() const {
    return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  grpc::Status Wait() {
    if (done.wait_for(kFailsafe) != std::future_status::ready) {
      ADD_FAILURE() << "the call did not finish";
      context.TryCancel();
    }
    return done.get();
  }
  std::function<void(grpc::Status)> Callback() {
    return [this](grpc::Status status) { promise.set_value(std::move(status)); };
  }
};

class ServiceUpstreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { config_ = CreatePoolTestDatastore(dir_.path()); }

  // Starts the server; `edit` adjusts the config first.
  void StartServer(const std::function<void(v1::Config&)>& edit = {}) {
    v1::Config config = config_;
    config.set_listen("127.0.0.1:0");
    config.set_metrics_listen("127.0.0.1:0");
    config.set_log_level("warn");
    config.set_shutdown_grace_seconds(0.2);
    if (edit) edit(config);
    absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server =
        StartWithFaultyUpstream(config, &faulty_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::ChunkCache::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (faulty_ != nullptr) faulty_->ReleaseCalls();
    if (server_ != nullptr) server_->Shutdown();
  }

  // Opens `snapshot` and reads all of it, so that its chunk is cached.
  void OpenAndRead(const char* snapshot) {
    absl::StatusOr<std::string> bytes =
        ConnectClient(server_->grpc_address())
            ->Read(Ref("store", snapshot, kPoolTestArchive), 0, kPoolTestImageBytes);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_EQ(bytes->size(), kPoolTestImageBytes);
  }

  void StartRead(const char* snapshot, PendingCall<v1::ReadRangeResponse>* call) {
    v1::ReadRangeRequest request;
    *request.mutable_snapshot() = Ref("store", snapshot, kPoolTestArchive);
    request.set_offset(0);
    request.set_length(4096);
    stub_->async()->ReadRange(&call->context, &request, &call->response, call->Callback());
  }

  void StartStat(const char* snapshot, PendingCall<v1::SnapshotInfo>* call) {
    v1::StatSnapshotRequest request;
    *request.mutable_snapshot() = Ref("store", snapshot, kPoolTestArchive);
    stub_->async()->StatSnapshot(&call->context, &request, &call->response, call->Callback());
  }

  // chunkcache_requests_total for `rpc` answered with `code`.
  double Requests(const std::string& rpc, const std::string& code) const {
    return FindMetric(HttpGet(server_->metrics_port(), "/metrics"), "chunkcache_requests_total",
                      {{"rpc", rpc}, {"code", code}})
        .value_or(0);
  }

  // Waits until the server has answered a `rpc` call with `code` (polling /metrics); false
  // after the failsafe.
  bool WaitForAnswered(const std::string& rpc, const std::string& code, double count = 1) const {
    const auto give_up = std::chrono::steady_clock::now() + kFailsafe;
    while (std::chrono::steady_clock::now() < give_up) {
      if (Requests(rpc, code) >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Holds every upstream data call from now on and waits until `count` are held.
  void ExpectHeld(int count) {
    ASSERT_TRUE(faulty_->WaitForHeldCalls(count, absl::Seconds(60)))
        << "expected " << count << " upstream calls held";
  }

  ScratchDir dir_;
  v1::Config config_;  // the pool-test datastore's; StartServer adds the listeners
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<ChunkCacheServer> server_;
  std::unique_ptr<v1::ChunkCache::Stub> stub_;
};

TEST_F(ServiceUpstreamPoolTest, HitsAndHealthChecksAreAnsweredWhileOpensHang) {
  StartServer();
  OpenAndRead(kPoolTestOpen);
  faulty_->HoldCalls();
  // Far more hanging opens than gRPC has callback threads, of two archives, through every
  // method that opens.
  constexpr int kSlowCalls = 48;
  std::vector<std::unique_ptr<PendingCall<v1::ReadRangeResponse>>> reads;
  std::vector<std::unique_ptr<PendingCall<v1::SnapshotInfo>>> stats;
  for (int i = 0; i < kSlowCalls; ++i) {
    reads.push_back(std::make_unique<PendingCall<v1::ReadRangeResponse>>());
    StartRead(i % 2 == 0 ? kPoolTestSlow : kPoolTestOther, reads.back().get());
    stats.push_back(std::make_unique<PendingCall<v1::SnapshotInfo>>());
    StartStat(i % 2 == 0 ? kPoolTestSlow : kPoolTestOther, stats.back().get());
  }
  ExpectHeld(2);  // the manifest reads of both archives

  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server_->grpc_address());
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> hit =
        client->Read(Ref("store", kPoolTestOpen, kPoolTestArchive), 0, 4096);
    ASSERT_TRUE(hit.ok()) << hit.status();
    absl::StatusOr<v1::SnapshotInfo> info =
        client->Stat(Ref("store", kPoolTestOpen, kPoolTestArchive));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->size(), kPoolTestImageBytes);
  }
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> health =
      client->CheckHealth("");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);

  // All of that was answered while every slow open still hung.
  for (int i = 0; i < kSlowCalls; ++i) {
    EXPECT_FALSE(reads[i]->finished()) << i;
    EXPECT_FALSE(stats[i]->finished()) << i;
  }
  faulty_->ReleaseCalls();
  for (int i = 0; i < kSlowCalls; ++i) {
    grpc::Status read = reads[i]->Wait();
    EXPECT_TRUE(read.ok()) << read.error_message();
    EXPECT_EQ(reads[i]->response.data().size(), 4096u);
    grpc::Status stat = stats[i]->Wait();
    EXPECT_TRUE(stat.ok()) << stat.error_message();
    EXPECT_EQ(stats[i]->response.size(), kPoolTestImageBytes);
  }
}

TEST_F(ServiceUpstreamPoolTest, ConcurrentOpensOfOneArchiveReadItsManifestAndIndexOnce) {
  StartServer();
  faulty_->HoldCalls();
  constexpr int kCalls = 24;
  std::vector<std::unique_ptr<PendingCall<v1::ReadRangeResponse>>> reads;
  std::vector<std::unique_ptr<PendingCall<v1::SnapshotInfo>>> stats;
  for (int i = 0; i < kCalls; ++i) {
    reads.push_back(std::make_unique<PendingCall<v1::ReadRangeResponse>>());
    StartRead(kPoolTestSlow, reads.back().get());
    stats.push_back(std::make_unique<PendingCall<v1::SnapshotInfo>>());
    StartStat(kPoolTestSlow, stats.back().get());
  }
  ExpectHeld(1);
  faulty_->ReleaseCalls();
  for (int i = 0; i < kCalls; ++i) {
    grpc::Status read = reads[i]->Wait();
    EXPECT_TRUE(read.ok()) << read.error_message();
    grpc::Status stat = stats[i]->Wait();
    EXPECT_TRUE(stat.ok()) << stat.error_message();
  }
  OpenAndRead(kPoolTestSlow);
  EXPECT_EQ(faulty_->total_calls(), kUpstreamReadsOfOneArchive);
}

TEST_F(ServiceUpstreamPoolTest, CallsWaitingForOneArchiveShareItsWorkerAndQueueSlot) {
  StartServer([](v1::Config& config) {
    config.set_upstream_call_threads(1);
    config.set_max_queued_upstream_calls(1);
  });
  faulty_->HoldCalls();
  constexpr int kCalls = 16;
  std::vector<std::unique_ptr<PendingCall<v1::ReadRangeResponse>>> reads;
  std::vector<std::unique_ptr<PendingCall<v1::SnapshotInfo>>> stats;
  for (int i = 0; i < kCalls; ++i) {
    reads.push_back(std::make_unique<PendingCall<v1::ReadRangeResponse>>());
    StartRead(kPoolTestSlow, reads.back().get());
  }
  ExpectHeld(1);  // the only worker opens kPoolTestSlow for all of them
  for (int i = 0; i < kCalls; ++i) {
    stats.push_back(std::make_unique<PendingCall<v1::SnapshotInfo>>());
    StartStat(kPoolTestOther,
              stats.back().get());  // one open of kPoolTestOther in the one queue slot
  }
  // More calls of both archives join the opens in progress, neither taking a slot. The calls
  // are asynchronous: some reach the server only after ReleaseCalls, even after the open of
  // their archive finished, and must find it open rather than queue an open of their own
  // (ArchiveOpenerTest covers the call that looked just before the open finished).
  for (int i = 0; i < kCalls; ++i) {
    reads.push_back(std::make_unique<PendingCall<v1::ReadRangeResponse>>());
    StartRead(i % 2 == 0 ? kPoolTestSlow : kPoolTestOther, reads.back().get());
  }
  EXPECT_EQ(faulty_->calls_in_flight(), 1);
  faulty_->ReleaseCalls();
  for (auto& read : reads) {
    grpc::Status status = read->Wait();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  for (auto& stat : stats) {
    grpc::Status status = stat->Wait();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(Requests("ReadRange", "RESOURCE_EXHAUSTED"), 0);
  EXPECT_EQ(Requests("StatSnapshot", "RESOURCE_EXHAUSTED"), 0);
}

TEST_F(ServiceUpstreamPoolTest, ClientCancelsAPendingOpen) {
  StartServer();
  faulty_->HoldCalls();
  PendingCall<v1::ReadRangeResponse> read;
  StartRead(kPoolTestSlow, &read);
  PendingCall<v1::SnapshotInfo> stat;
  StartStat(kPoolTestSlow, &stat);
  ExpectHeld(1);
  read.context.TryCancel();
  stat.context.TryCancel();
  EXPECT_EQ(read.Wait().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(stat.Wait().error_code(), grpc::StatusCode::CANCELLED);
  // The server answered both while the open still hangs.
  EXPECT_TRUE(WaitForAnswered("ReadRange", "CANCELLED"));
  EXPECT_TRUE(WaitForAnswered("StatSnapshot", "CANCELLED"));
  EXPECT_EQ(faulty_->calls_in_flight(), 1);

  // The open goes on and serves the next call without reading the archive again.
  faulty_->ReleaseCalls();
  OpenAndRead(kPoolTestSlow);
  EXPECT_EQ(faulty_->total_calls(), kUpstreamReadsOfOneArchive);
}

TEST_F(ServiceUpstreamPoolTest, DeadlineOfAPendingOpen) {
  StartServer();
  faulty_->HoldCalls();
  PendingCall<v1::SnapshotInfo> stat;  // no deadline: it keeps the open hanging
  StartStat(kPoolTestSlow, &stat);
  ExpectHeld(1);
  PendingCall<v1::ReadRangeResponse> read;
  read.context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  StartRead(kPoolTestSlow, &read);
  EXPECT_EQ(read.Wait().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitForAnswered("ReadRange", "DEADLINE_EXCEEDED"));
  EXPECT_FALSE(stat.finished()) << "the open still hangs";
  EXPECT_EQ(faulty_->calls_in_flight(), 1);
  faulty_->ReleaseCalls();
  grpc::Status stat_status = stat.Wait();
  EXPECT_TRUE(stat_status.ok()) << stat_status.error_message();
  OpenAndRead(kPoolTestSlow);
  EXPECT_EQ(faulty_->total_calls(), kUpstreamReadsOfOneArchive);
}

TEST_F(ServiceUpstreamPoolTest, ShutdownWithAnOpenPending) {
  StartServer();
  faulty_->HoldCalls();
  PendingCall<v1::ReadRangeResponse> read;
  StartRead(kPoolTestSlow, &read);
  PendingCall<v1::GetSnapshotFileResponse> file;
  {
    v1::GetSnapshotFileRequest request;
    *request.mutable_snapshot() = Ref("store", kPoolTestOther, "");
    request.set_file_name(kPoolTestArchive);
    stub_->async()->GetSnapshotFile(&file.context, &request, &file.response, file.Callback());
  }
  ExpectHeld(2);
  std::atomic<bool> shut_down{false};
  std::thread shutdown([&] {
    server_->Shutdown();
    shut_down = true;
  });
  // Both calls are answered while their upstream reads still hang, and the shutdown waits for
  // those reads before it tears down the sessions and the cache.
  const grpc::StatusCode read_code = read.Wait().error_code();
  EXPECT_TRUE(read_code == grpc::StatusCode::CANCELLED ||
              read_code == grpc::StatusCode::UNAVAILABLE)
      << read_code;
  const grpc::StatusCode file_code = file.Wait().error_code();
  EXPECT_TRUE(file_code == grpc::StatusCode::CANCELLED ||
              file_code == grpc::StatusCode::UNAVAILABLE)
      << file_code;
  EXPECT_FALSE(shut_down);
  EXPECT_EQ(faulty_->calls_in_flight(), 2);
  faulty_->ReleaseCalls();
  shutdown.join();
  EXPECT_TRUE(shut_down);
}

TEST_F(ServiceUpstreamPoolTest, FullQueueIsResourceExhausted) {
  StartServer([](v1::Config& config) {
    config.set_upstream_call_threads(1);
    config.set_max_queued_upstream_calls(1);
  });
  OpenAndRead(kPoolTestOpen);
  faulty_->HoldCalls();
  PendingCall<v1::ReadRangeResponse> running;
  StartRead(kPoolTestSlow, &running);
  ExpectHeld(1);  // the only worker hangs in this open
  // One of these two waits for the worker; the other finds the queue full.
  PendingCall<v1::SnapshotInfo> second;
  StartStat(kPoolTestOther, &second);
  PendingCall<v1::ListSnapshotsResponse> third;
  {
    v1::ListSnapshotsRequest request;
    request.set_datastore("store");
    stub_->async()->ListSnapshots(&third.context, &request, &third.response, third.Callback());
  }
  // Whichever was refused is answered while the other still waits, and so does the open.
  const auto give_up = std::chrono::steady_clock::now() + kFailsafe;
  while (!second.finished() && !third.finished() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const bool second_refused = second.finished();
  EXPECT_NE(second.finished(), third.finished());
  EXPECT_FALSE(running.finished());
  // An archive that is open already needs no worker.
  absl::StatusOr<std::string> hit =
      ConnectClient(server_->grpc_address())
          ->Read(Ref("store", kPoolTestOpen, kPoolTestArchive), 0, 4096);
  EXPECT_TRUE(hit.ok()) << hit.status();

  faulty_->ReleaseCalls();
  EXPECT_TRUE(running.Wait().ok());
  grpc::Status second_status = second.Wait();
  grpc::Status third_status = third.Wait();
  if (second_refused) {
    EXPECT_EQ(second_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_TRUE(third_status.ok()) << third_status.error_message();
    EXPECT_EQ(third.response.snapshots_size(), 4);
  } else {
    EXPECT_EQ(third_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_TRUE(second_status.ok()) << second_status.error_message();
  }
}

}  // namespace
}  // namespace chunkcache::testing
