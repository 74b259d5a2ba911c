// Live restore through the NBD server: a restore copies the disk sequentially on one
// connection while a guest reads it at random on another, both readers of one archive's
// session in a chunkcached in this process. The datastore is read through a FaultyUpstream
// whose calls the test holds and releases, and the yield window runs on a manual clock, so
// the order of events is the test's, not the scheduler's: while the guest's read waits for its
// fetch, and for the window after it, not one prefetch reaches the upstream (counted with the
// upstream's calls and the service's metrics), however many the restore's reads queue; after
// the window the restore's readahead starts again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "service/chunkcache_server.h"
#include "service/server_settings.h"
#include "tests/cache/cache_test_util.h"
#include "tests/nbd/raw_nbd_client.h"
#include "tests/service/faulty_upstream_server.h"
#include "tests/service/service_test_env.h"
#include "tests/testing/manual_clock.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache::testing {
namespace {

constexpr uint32_t kChunk = 4 << 20;
constexpr uint64_t kChunks = 32;
constexpr uint64_t kWindow = 8;       // sessions.readahead_max_chunks
constexpr int kWorkers = 8;           // cache.max_concurrent_fetches
constexpr uint64_t kGuestChunk = 30;  // beyond anything the restore's readahead asks for here
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kExport[] = "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";

class NbdLiveRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = RepeatedPatternImage(kChunks, kChunk, 7);
    WriteFileBytes(dir_ / "disk.img", image_);
    CreateArchive(dir_ / "ds", kSnapshot, "drive-scsi0.img.fidx", dir_ / "disk.img");

    v1::Config config;
    config.set_listen("127.0.0.1:0");
    config.set_metrics_listen("127.0.0.1:0");
    config.set_log_level("warn");
    v1::DatastoreConfig* store = config.add_datastores();
    store->set_name("store");
    store->set_path((dir_ / "ds").string());
    config.mutable_cache()->set_dir((dir_ / "cache").string());
    config.mutable_cache()->set_capacity("512MiB");
    config.mutable_cache()->set_max_concurrent_fetches(kWorkers);
    config.mutable_sessions()->set_readahead_max_chunks(kWindow);
    // The live-restore setting: no prefetch while the guest waits, nor in the window after.
    config.mutable_cache()->set_max_readahead_fetches_under_demand(0);
    config.mutable_cache()->set_readahead_yield_window_fetch_times(1);
    config.mutable_nbd()->set_listen("127.0.0.1:0");
    absl::StatusOr<std::unique_ptr<ChunkCacheServer>> server = StartWithFaultyUpstream(
        config, &faulty_,
        [this](ServerSettings& settings) { settings.cache.clock = clock_.AsFunction(); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    restore_ = ConnectNbd(server_->nbd_port(), kExport);
    guest_ = ConnectNbd(server_->nbd_port(), kExport);
    ASSERT_GE(restore_, 0);
    ASSERT_GE(guest_, 0);
  }

  void TearDown() override {
    if (faulty_ != nullptr) faulty_->ReleaseCalls();
    if (restore_ >= 0) close(restore_);
    if (guest_ >= 0) close(guest_);
    if (server_ != nullptr) server_->Shutdown();
  }

  double Metric(std::string_view name, const Labels& labels = {}) const {
    return FindMetric(HttpGet(server_->metrics_port(), "/metrics"), name, labels).value_or(-1);
  }
  double Fetches(const std::string& state, const std::string& kind) const {
    return Metric("chunkcache_fetches", {{"state", state}, {"kind", kind}});
  }
  double HeldBack() const { return Metric("chunkcache_prefetches_held_back_total"); }
  // Runs `event` (reads that queue readahead, the clock moving) and waits until a worker has
  // looked at the queued prefetches since and left them all queued.
  void ExpectReadaheadHeldBackAfter(const std::function<void()>& event) {
    const double before = HeldBack();
    event();
    EXPECT_TRUE(WaitFor([&] { return HeldBack() > before; }));
  }

  // Reads [offset, offset + length) on `fd` and checks the bytes.
  void Read(int fd, uint64_t cookie, uint64_t offset, uint32_t length) {
    ASSERT_TRUE(SendAll(fd, NbdReadRequest(cookie, offset, length)));
    ExpectReply(fd, cookie, offset, length);
  }
  void ExpectReply(int fd, uint64_t cookie, uint64_t offset, uint32_t length) {
    std::optional<NbdSimpleReply> reply = ReadSimpleReply(fd, length);
    ASSERT_TRUE(reply.has_value()) << "no reply to read " << cookie;
    EXPECT_EQ(reply->cookie, cookie);
    EXPECT_EQ(reply->error, 0u);
    EXPECT_TRUE(reply->data == image_.substr(offset, length)) << "read " << cookie;
  }
  void RestoreReads(uint64_t chunk) { Read(restore_, 1000 + chunk, chunk * kChunk, kChunk); }

  ManualClock clock_;
  ScratchDir dir_;
  std::string image_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<ChunkCacheServer> server_;
  int restore_ = -1;
  int guest_ = -1;
};

TEST_F(NbdLiveRestoreTest, NoReadaheadReachesTheUpstreamWhileAGuestsReadWaitsNorInItsWindow) {
  // The restore reads chunks 0..5 with nothing held: its stream is detected at the third read
  // and its window grows 2, 4, 8, so readahead has fetched up to chunk 5 + 8 = 13.
  for (uint64_t chunk = 0; chunk <= 5; ++chunk) RestoreReads(chunk);
  ASSERT_TRUE(WaitFor([&] {
    return Fetches("running", "demand") == 0 && Fetches("running", "prefetch") == 0 &&
           Fetches("queued", "prefetch") == 0;
  }));

  // Held from now on: each read of a cached chunk moves the window and queues one prefetch,
  // and the first four start at once.
  faulty_->HoldCalls();
  for (uint64_t chunk = 6; chunk <= 9; ++chunk) RestoreReads(chunk);
  ASSERT_TRUE(faulty_->WaitForHeldCalls(4, absl::Seconds(30)));
  const std::vector<ChunkDigest> readahead = faulty_->held_chunks();
  ASSERT_EQ(readahead.size(), 4u);
  EXPECT_EQ(Fetches("running", "prefetch"), 4);

  // The guest misses: its fetch starts on a free worker.
  ASSERT_TRUE(SendAll(guest_, NbdReadRequest(1, kGuestChunk * kChunk + 8192, 4096)));
  ASSERT_TRUE(faulty_->WaitForHeldCalls(5, absl::Seconds(30)));
  const uint64_t calls_with_guest = faulty_->total_calls();
  std::vector<ChunkDigest> held = faulty_->held_chunks();
  ASSERT_EQ(held.size(), 5u);
  const ChunkDigest guest = held.back();
  EXPECT_TRUE(std::find(readahead.begin(), readahead.end(), guest) == readahead.end());

  // While it waits, the restore goes on: it reads the chunks it has (10..13), its readahead
  // finishes (14..17) and it reads those too. Every read queues a prefetch; none starts.
  for (uint64_t chunk = 10; chunk <= 13; ++chunk) RestoreReads(chunk);
  for (const ChunkDigest& digest : readahead) faulty_->ReleaseChunk(digest);
  ASSERT_TRUE(WaitFor([&] {
    return faulty_->held_chunks().size() == 1 && Fetches("running", "prefetch") == 0 &&
           Fetches("running", "demand") == 1;
  }));
  ExpectReadaheadHeldBackAfter([&] {
    for (uint64_t chunk = 14; chunk <= 17; ++chunk) RestoreReads(chunk);
  });
  EXPECT_EQ(faulty_->total_calls(), calls_with_guest);
  EXPECT_EQ(faulty_->held_chunks(), std::vector<ChunkDigest>{guest});
  EXPECT_EQ(Fetches("running", "prefetch"), 0);
  EXPECT_EQ(Fetches("queued", "prefetch"), 8);  // chunks 18..25

  // The guest's fetch takes 400 ms. The window is the moving average of random readers' fetch
  // times on the datastore: the restore's first reads (random until its stream was detected)
  // took 0 ms on the manual clock, so it is 400 / 4 = 100 ms.
  clock_.Advance(absl::Milliseconds(400));
  ExpectReadaheadHeldBackAfter([&] {
    faulty_->ReleaseChunk(guest);
    ExpectReply(guest_, 1, kGuestChunk * kChunk + 8192, 4096);
    // The reply may leave before the worker is done with the fetch: the window starts then.
    ASSERT_TRUE(WaitFor([&] { return Fetches("running", "demand") == 0; }));
  });
  ExpectReadaheadHeldBackAfter([&] { clock_.Advance(absl::Milliseconds(99)); });
  EXPECT_EQ(faulty_->total_calls(), calls_with_guest);
  EXPECT_EQ(Fetches("running", "prefetch"), 0);

  // After the window the restore's readahead starts again, from one prefetch.
  clock_.Advance(absl::Milliseconds(2));
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(30)));
  EXPECT_EQ(faulty_->total_calls(), calls_with_guest + 1);
  faulty_->ReleaseCalls();
  for (uint64_t chunk = 18; chunk < kChunks; ++chunk) RestoreReads(chunk);
}

}  // namespace
}  // namespace chunkcache::testing
