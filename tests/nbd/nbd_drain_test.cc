// Shutdown with NBD reads in flight: a chunkcached in this process (ChunkCacheServer) reads its
// datastore through a FaultyUpstream whose chunk fetches the test holds, so the reads are
// really waiting on the upstream when shutdown starts. Within the grace period they complete
// and are answered, then the connection closes; past it the connection closes without them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "service/chunkcache_server.h"
#include "service/server_settings.h"
#include "tests/nbd/raw_nbd_client.h"
#include "tests/service/faulty_upstream_server.h"
#include "tests/service/service_test_env.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache::testing {
namespace {

constexpr uint32_t kChunk = 4 << 20;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kExport[] = "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";

bool ConnectRefused(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0;
  close(fd);
  return refused;
}

class NbdDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = PseudoRandomBytes(2 * kChunk, 5);
    WriteFileBytes(dir_ / "disk.img", image_);
    CreateArchive(dir_ / "ds", kSnapshot, "drive-scsi0.img.fidx", dir_ / "disk.img");
  }

  void StartServer(double grace_seconds) {
    v1::Config config;
    config.set_listen("127.0.0.1:0");
    config.set_metrics_listen("none");
    config.set_log_level("warn");
    config.set_shutdown_grace_seconds(grace_seconds);
    v1::DatastoreConfig* store = config.add_datastores();
    store->set_name("store");
    store->set_path((dir_ / "ds").string());
    config.mutable_cache()->set_dir((dir_ / "cache").string());
    config.mutable_cache()->set_capacity("64MiB");
    config.mutable_sessions()->set_readahead(false);  // only the reads the test sends fetch
    config.mutable_nbd()->set_listen("127.0.0.1:0");
    absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server =
        StartWithFaultyUpstream(config, &faulty_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Connects (the export opens: manifest and index are read), then holds the upstream and
  // sends a read of each chunk; returns once both fetches are held.
  int ConnectWithReadsInFlight() {
    const int fd = ConnectNbd(server_->nbd_port(), kExport);
    EXPECT_GE(fd, 0);
    faulty_->HoldCalls();
    EXPECT_TRUE(SendAll(fd, NbdReadRequest(1, 0, kChunk) + NbdReadRequest(2, kChunk, kChunk)));
    EXPECT_TRUE(faulty_->WaitForHeldCalls(2, absl::Seconds(30)));
    return fd;
  }

  // Shutdown on its own thread (it returns once NBD has drained); returns after the listener
  // has closed, i.e. once shutdown has begun.
  std::future<void> BeginShutdown() {
    std::future<void> done = std::async(std::launch::async, [this] { server_->Shutdown(); });
    const int port = server_->nbd_port();
    for (int i = 0; i < 600 && !ConnectRefused(port); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(ConnectRefused(port));
    return done;
  }

  void TearDown() override {
    if (faulty_ != nullptr) faulty_->ReleaseCalls();
    if (server_ != nullptr) server_->Shutdown();
  }

  ScratchDir dir_;
  std::string image_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<ChunkCacheServer> server_;
};

TEST_F(NbdDrainTest, ReadsInFlightFinishWithinTheGracePeriodThenTheConnectionCloses) {
  StartServer(/*grace_seconds=*/60);
  const int fd = ConnectWithReadsInFlight();
  ASSERT_GE(fd, 0);
  std::future<void> shutdown = BeginShutdown();
  EXPECT_EQ(shutdown.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "shutdown did not wait for the reads in flight";

  faulty_->ReleaseCalls();
  for (int i = 0; i < 2; ++i) {
    std::optional<NbdSimpleReply> reply = ReadSimpleReply(fd, kChunk);
    ASSERT_TRUE(reply.has_value()) << "reply " << i << " missing";
    EXPECT_EQ(reply->error, 0u);
    ASSERT_TRUE(reply->cookie == 1 || reply->cookie == 2) << reply->cookie;
    EXPECT_TRUE(reply->data == image_.substr((reply->cookie - 1) * kChunk, kChunk));
  }
  std::string more;
  EXPECT_FALSE(ReadExactly(fd, 1, &more)) << "the connection stayed open after draining";
  shutdown.get();
  close(fd);
}

TEST_F(NbdDrainTest, ReadsStillWaitingWhenTheGracePeriodEndsAreCut) {
  StartServer(/*grace_seconds=*/0.5);
  const int fd = ConnectWithReadsInFlight();
  ASSERT_GE(fd, 0);
  std::future<void> shutdown = BeginShutdown();
  // The grace period ends with both fetches still held: the connection closes, unanswered.
  std::string more;
  EXPECT_FALSE(ReadExactly(fd, 1, &more)) << "a reply came although the reads never finished";
  // The cache waits for its fetches before it goes; a real upstream call would time out.
  faulty_->ReleaseCalls();
  shutdown.get();
  close(fd);
}

}  // namespace
}  // namespace chunkcache::testing
