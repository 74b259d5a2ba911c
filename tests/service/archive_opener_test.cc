// ArchiveOpener over a real datastore, catalog, cache and session registry, with a one-thread,
// one-slot BlockingPool and the datastore behind a FaultyUpstream whose reads the tests hold.
// A call checks FindOpen before it asks the opener, so an open of its archive can finish in
// between; the opener must then answer with the open session, not take a worker or a queue
// slot (and be refused RESOURCE_EXHAUSTED when the queue is full).
#include "service/archive_opener.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "cache/chunk_cache.h"
#include "cache/session_registry.h"
#include "chunkcache/v1/config.pb.h"
#include "format/snapshot_name.h"
#include "service/archive_resolver.h"
#include "service/blocking_pool.h"
#include "service/datastore_catalog.h"
#include "service/server_settings.h"
#include "tests/service/faulty_upstream_server.h"
#include "tests/service/service_test_env.h"
#include "upstream/faulty_upstream.h"

namespace chunkcache::testing {
namespace {

constexpr auto kFailsafe = std::chrono::seconds(60);

// One Open whose result is waited for.
struct PendingOpen {
  std::promise<SessionResult> promise;
  std::future<SessionResult> done = promise.get_future();
  OpenTicket ticket;

  SessionResult Wait() {
    if (ticket.ready()) return ticket.TakeResult();
    if (done.wait_for(kFailsafe) != std::future_status::ready) {
      ADD_FAILURE() << "the open did not finish";
      return absl::DeadlineExceededError("failsafe");
    }
    return done.get();
  }
};

class ArchiveOpenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const v1::Config config = CreatePoolTestDatastore(dir_.path());
    absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
    ASSERT_TRUE(settings.ok()) << settings.status();
    WrapFirstUpstreamInFaulty(*settings, &faulty_);
    absl::StatusOr<std::unique_ptr<DatastoreCatalog>> catalog =
        DatastoreCatalog::Open(settings->datastores);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
    absl::StatusOr<std::unique_ptr<ChunkCache>> cache = ChunkCache::Open(settings->cache);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *std::move(cache);
    registry_ = std::make_unique<SessionRegistry>(cache_.get(), settings->sessions);
    resolver_ = std::make_unique<ArchiveResolver>(catalog_.get(), settings->authorizer.get(),
                                                  registry_.get());
    opener_ = std::make_unique<ArchiveOpener>(resolver_.get(), &pool_);
  }

  void TearDown() override {
    if (faulty_ != nullptr) faulty_->ReleaseCalls();
    pool_.Shutdown();  // before the registry and the cache the running opens use
  }

  ArchiveRequest Request(const char* snapshot) const {
    ArchiveRequest request;
    request.datastore = catalog_->Find("store");
    absl::StatusOr<SnapshotName> name = SnapshotName::Parse(snapshot);
    EXPECT_TRUE(name.ok()) << name.status();
    if (name.ok()) request.snapshot = *std::move(name);
    request.archive = kPoolTestArchive;
    return request;
  }

  void StartOpen(const char* snapshot, PendingOpen* open) {
    open->ticket = opener_->Open(Request(snapshot), [open](SessionResult result) {
      open->promise.set_value(std::move(result));
    });
  }

  ScratchDir dir_;
  std::shared_ptr<FaultyUpstream> faulty_;
  std::unique_ptr<DatastoreCatalog> catalog_;
  std::unique_ptr<ChunkCache> cache_;
  std::unique_ptr<SessionRegistry> registry_;
  std::unique_ptr<ArchiveResolver> resolver_;
  BlockingPool pool_{/*threads=*/1, /*max_queued=*/1};
  std::unique_ptr<ArchiveOpener> opener_;
};

TEST_F(ArchiveOpenerTest, AnArchiveOpenAlreadyTakesNoWorkerNorQueueSlot) {
  PendingOpen first;
  StartOpen(kPoolTestOpen, &first);
  SessionResult opened = first.Wait();
  ASSERT_TRUE(opened.ok()) << opened.status();

  faulty_->HoldCalls();
  PendingOpen running;
  StartOpen(kPoolTestSlow, &running);
  ASSERT_TRUE(faulty_->WaitForHeldCalls(1, absl::Seconds(60)));  // the only worker hangs
  PendingOpen queued;
  StartOpen(kPoolTestOther, &queued);
  EXPECT_FALSE(queued.ticket.ready()) << "it waits in the one queue slot";
  PendingOpen refused;
  StartOpen(kPoolTestThird, &refused);
  ASSERT_TRUE(refused.ticket.ready());
  EXPECT_EQ(refused.Wait().status().code(), absl::StatusCode::kResourceExhausted);

  // As a call that looked with FindOpen just before the open of kPoolTestOpen finished: the
  // opener answers with the open session at once although the queue is full.
  PendingOpen again;
  StartOpen(kPoolTestOpen, &again);
  ASSERT_TRUE(again.ticket.ready());
  SessionResult session = again.Wait();
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(*session, *opened);
  EXPECT_EQ(faulty_->calls_in_flight(), 1);

  faulty_->ReleaseCalls();
  SessionResult slow = running.Wait();
  EXPECT_TRUE(slow.ok()) << slow.status();
  SessionResult other = queued.Wait();
  EXPECT_TRUE(other.ok()) << other.status();
}

}  // namespace
}  // namespace chunkcache::testing
