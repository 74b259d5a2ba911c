// NBD clients that send reads and never read the replies cannot take the cache from gRPC
// clients: unsent NBD replies charge the chunks they pin to the same reply pin budget as gRPC
// replies (a share per connection, one total), beyond which they are copied, and an NBD
// connection over its share reads no new requests until its replies drain.
#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
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

// Distinct chunks that compress well (a 64 KiB pattern each), so the datastore builds fast.
std::string MakeImage() {
  std::string image;
  image.reserve(kChunks * kChunk);
  for (uint64_t chunk = 0; chunk < kChunks; ++chunk) {
    const std::string pattern = PseudoRandomBytes(64 * 1024, 300 + chunk);
    for (uint64_t i = 0; i < kChunk / pattern.size(); ++i) image += pattern;
  }
  return image;
}

void PutBe(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

bool ReadExactly(int fd, size_t length, std::string* out) {
  out->resize(length);
  size_t got = 0;
  while (got < length) {
    const ssize_t n = recv(fd, out->data() + got, length - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// An NBD client socket in transmission on `export_name` (fixed newstyle, NBD_OPT_EXPORT_NAME,
// no zeroes), with a small receive buffer so that unread replies stay on the server; -1 on any
// failure.
int ConnectNbd(int port, const std::string& export_name) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int small_buffer = 16 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof(small_buffer));
  timeval timeout{30, 0};  // a broken server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string greeting;
  std::string options;
  PutBe(options, 3, 4);  // client flags: FIXED_NEWSTYLE | NO_ZEROES
  options += "IHAVEOPT";
  PutBe(options, 1, 4);  // NBD_OPT_EXPORT_NAME
  PutBe(options, export_name.size(), 4);
  options += export_name;
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      !ReadExactly(fd, 18, &greeting) || greeting.compare(0, 16, "NBDMAGICIHAVEOPT") != 0 ||
      send(fd, options.data(), options.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(options.size()) ||
      !ReadExactly(fd, 10, &reply)) {  // export size and transmission flags
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadRequest(uint64_t cookie, uint64_t offset, uint32_t length) {
  std::string request;
  PutBe(request, 0x25609513, 4);
  PutBe(request, 0, 2);  // flags
  PutBe(request, 0, 2);  // NBD_CMD_READ
  PutBe(request, cookie, 8);
  PutBe(request, offset, 8);
  PutBe(request, length, 4);
  return request;
}

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
    const int fd = ConnectNbd(server->nbd_port(), kExport);
    ASSERT_GE(fd, 0) << server->Log();
    stalled.push_back(fd);
    std::string requests;
    // Distinct chunks, none cached yet, backwards (no readahead): every request is read and
    // started before any reply is queued.
    for (int read = 0; read < kReadsPerConnection; ++read) {
      const uint64_t chunk = (connection + 1) * kReadsPerConnection - 1 - read;
      requests += ReadRequest(read, chunk * kChunk, static_cast<uint32_t>(kChunk));
    }
    ASSERT_EQ(send(fd, requests.data(), requests.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(requests.size()));
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
