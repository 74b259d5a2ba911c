// NBD clients that send reads and never read the replies cannot take the cache from gRPC
// clients: unsent NBD replies charge the chunks they pin to the same reply pin budget as gRPC
// replies (a share per connection, one total), beyond which they are copied, and an NBD
// connection over its share reads no new requests until its replies drain.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "tests/nbd/raw_nbd_client.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;  // what `chunkcache datastore create` cuts
constexpr uint64_t kChunks = 20;
constexpr int kStalledConnections = 6;
constexpr int kReadsPerConnection = 3;
// No NBD client reads chunks from here on.
constexpr uint64_t kColdChunk = kStalledConnections * kReadsPerConnection;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kDisk[] = "drive-scsi0.img.fidx";
constexpr char kExport[] = "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";

std::string MakeImage() { return RepeatedPatternImage(kChunks, kChunk, 300); }

std::unique_ptr<v1::ChunkCache::Stub> GrpcClient(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  EXPECT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
  return v1::ChunkCache::NewStub(channel);
}

// The acceptance: a 64 MiB cache (16 chunks); 6 NBD connections each send three 4 MiB
// reads of distinct chunks (18 chunks in all) and never read a reply. Unbounded, their replies
// would pin more than the cache; charged to the reply budget (a quarter of the cache, 8 MiB a
// connection) they pin at most 16 MiB and the rest is copied. Another client's cold ReadRange
// then neither fails nor waits more than a second.
TEST(NbdStalledClientsTest, StalledNbdReadersCannotStarveAGrpcClientsColdRead) {
  ScratchDir dir;
  const std::string image = MakeImage();
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, kDisk, dir / "disk.img");
  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--nbd-listen", "127.0.0.1:0", "--datastore",
                                 "store=" + (dir / "ds").string(), "--cache-bytes", "64MiB"});
  ASSERT_NE(server, nullptr);

  std::vector<int> stalled;
  for (int connection = 0; connection < kStalledConnections; ++connection) {
    const int fd = ConnectNbd(server->nbd_port(), kExport, /*receive_buffer=*/16 * 1024);
    ASSERT_GE(fd, 0) << server->Log();
    stalled.push_back(fd);
    std::string requests;
    // Distinct chunks, none cached yet, backwards (no readahead): every request is read and
    // started before any reply is queued.
    for (int read = 0; read < kReadsPerConnection; ++read) {
      const uint64_t chunk = (connection + 1) * kReadsPerConnection - 1 - read;
      requests += NbdReadRequest(read, chunk * kChunk, static_cast<uint32_t>(kChunk));
    }
    ASSERT_TRUE(SendAll(fd, requests));
  }
  // Every read answered (queued on the server, unsent): the replies hold what they may pin.
  const double all_reads = kStalledConnections * kReadsPerConnection;
  auto answered = [&] {
    double total = 0;
    for (const char* result : {"ok", "eio", "enomem", "einval"}) {
      total +=
          server->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", result}})
              .value_or(0);
    }
    return total;
  };
  for (int i = 0; i < 1200 && answered() < all_reads; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(answered(), all_reads) << server->Log();
  EXPECT_EQ(server->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "ok"}})
                .value_or(0),
            all_reads);

  std::unique_ptr<v1::ChunkCache::Stub> other = GrpcClient(server->address());
  v1::ReadRangeRequest request;
  *request.mutable_snapshot() = Ref("store", kSnapshot, kDisk);
  request.set_offset(kColdChunk * kChunk + 12345);
  request.set_length(kChunk);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ReadRangeResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status = other->ReadRange(&context, request, &response);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << "\n"
                           << server->Log();
  EXPECT_TRUE(response.data() == image.substr(kColdChunk * kChunk + 12345, kChunk));
  EXPECT_LT(took, absl::Seconds(1)) << "the cold read waited for room";

  // The NBD connections are still there, stalled, holding what the budget let them pin.
  EXPECT_EQ(server->Metric("chunkcache_nbd_connections").value_or(0), kStalledConnections);
  const std::optional<double> reply_pinned = server->Metric("chunkcache_reply_pinned_bytes");
  ASSERT_TRUE(reply_pinned.has_value());
  EXPECT_GT(*reply_pinned, 0);
  EXPECT_LE(*reply_pinned, 16 << 20);
  EXPECT_GT(server->Metric("chunkcache_reply_copied_bytes_total").value_or(0), 0);

  for (int fd : stalled) close(fd);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
