// The client library and the remote subcommands against a real gRPC server on a loopback
// socket: InMemoryChunkCacheTestServer, a test double that implements the ChunkCache API over
// an in-memory archive (the chunkcached service is tested separately).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli/bench_command.h"
#include "client/cli/load_generator.h"
#include "client/cli/read_command.h"
#include "client/cli/restore_command.h"
#include "client/cli/sha256_sink.h"
#include "client/cli/stat_command.h"
#include "client/lib/chunkcache_client.h"
#include "nlohmann/json.hpp"
#include "tests/client/client_lib_test_pki.h"
#include "tests/client/client_lib_test_server.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using testing::InMemoryChunkCacheTestServer;
using testing::TestServerOptions;

constexpr char kSnapshot[] = "vm/100/2026-01-02T00:00:00Z";
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// 1 MiB of data, 1 MiB of zeros (holes in a restored file), 1 MiB + 12345 bytes of data.
std::string SampleArchive() {
  return testing::PseudoRandomBytes(kMiB, 1) + std::string(kMiB, '\0') +
         testing::PseudoRandomBytes(kMiB + 12345, 2);
}

v1::SnapshotRef Ref(const std::string& archive = "disk.img.fidx") {
  v1::SnapshotRef ref;
  ref.set_datastore("store");
  ref.set_backup_type("vm");
  ref.set_backup_id("100");
  ref.set_backup_time(1767312000);
  ref.set_archive(archive);
  return ref;
}

class StringSink : public ArchiveSink {
 public:
  absl::Status Begin(uint64_t total_size) override {
    begun_with = total_size;
    return absl::OkStatus();
  }
  absl::Status Append(std::string_view bytes) override {
    if (++appends == fail_on_append) return absl::ResourceExhaustedError("disk full");
    data.append(bytes);
    return absl::OkStatus();
  }
  absl::Status Finish() override {
    finished = true;
    return absl::OkStatus();
  }
  std::string data;
  uint64_t begun_with = 0;
  int appends = 0;
  int fail_on_append = -1;
  bool finished = false;
};

class ClientEndToEndTest : public ::testing::Test {
 protected:
  void StartServer(TestServerOptions options) {
    if (options.archive_bytes.empty()) options.archive_bytes = archive_;
    server_ = InMemoryChunkCacheTestServer::Start(std::move(options));
    ASSERT_NE(server_, nullptr);
  }

  ClientOptions Options() const {
    ClientOptions options;
    options.server_address = server_->address();
    options.rpc_deadline = std::chrono::seconds(10);
    options.retry.initial_backoff = std::chrono::milliseconds(1);
    options.retry.max_backoff = std::chrono::milliseconds(5);
    return options;
  }

  std::unique_ptr<ChunkCacheClient> Connect(const ClientOptions& options) {
    absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<ChunkCacheClient> Connect() { return Connect(Options()); }

  const std::string archive_ = SampleArchive();
  std::unique_ptr<InMemoryChunkCacheTestServer> server_;
};

TEST_F(ClientEndToEndTest, StatReturnsTheSnapshotInfo) {
  StartServer({});
  absl::StatusOr<v1::SnapshotInfo> info = Connect()->Stat(Ref());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), archive_.size());
  EXPECT_EQ(info->chunk_size(), 4096u);
  EXPECT_EQ(info->crypt_mode(), "none");
}

TEST_F(ClientEndToEndTest, ReadRangeFollowsTheApiSemantics) {
  StartServer({});
  std::unique_ptr<ChunkCacheClient> client = Connect();
  absl::StatusOr<v1::ReadRangeResponse> middle = client->ReadRange(Ref(), 1000, 5000);
  ASSERT_TRUE(middle.ok()) << middle.status();
  EXPECT_EQ(middle->offset(), 1000u);
  EXPECT_EQ(middle->data(), archive_.substr(1000, 5000));
  EXPECT_FALSE(middle->eof());

  // Past the end: the bytes that exist, with eof.
  absl::StatusOr<v1::ReadRangeResponse> tail = client->ReadRange(Ref(), archive_.size() - 10, 100);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(tail->data(), archive_.substr(archive_.size() - 10));
  EXPECT_TRUE(tail->eof());

  absl::StatusOr<v1::ReadRangeResponse> beyond = client->ReadRange(Ref(), archive_.size(), 1);
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(beyond.status().message().find(server_->address()), absl::string_view::npos);

  EXPECT_EQ(client->ReadRange(Ref(), 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->ReadRange(Ref(), 0, 4 * kMiB + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->ReadRange(Ref(), UINT64_MAX, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientEndToEndTest, ReadLoopsInMaxReadPiecesAndStopsAtTheEnd) {
  TestServerOptions server;
  server.max_read_bytes = 64 * kKiB;
  StartServer(server);
  ClientOptions options = Options();
  options.max_read_bytes = 64 * kKiB;
  std::unique_ptr<ChunkCacheClient> client = Connect(options);

  absl::StatusOr<std::string> across = client->Read(Ref(), 1000, 300000);
  ASSERT_TRUE(across.ok()) << across.status();
  EXPECT_EQ(*across, archive_.substr(1000, 300000));
  EXPECT_EQ(server_->read_calls(), 5);  // ceil(300000 / 65536)

  absl::StatusOr<std::string> tail = client->Read(Ref(), archive_.size() - 10, 1 * kMiB);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(*tail, archive_.substr(archive_.size() - 10));

  EXPECT_EQ(client->Read(Ref(), archive_.size(), 10).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(ClientEndToEndTest, ShortAnswersAreCompletedByAskingForTheRest) {
  TestServerOptions server;
  server.short_answer_bytes = 10000;
  StartServer(server);
  std::unique_ptr<ChunkCacheClient> client = Connect();
  absl::StatusOr<std::string> read = client->Read(Ref(), 5, 100000);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, archive_.substr(5, 100000));

  StringSink sink;
  StreamArchiveOptions stream;
  stream.max_in_flight = 3;
  stream.request_size = 256 * kKiB;
  absl::StatusOr<StreamArchiveResult> result = client->StreamArchive(Ref(), sink, stream);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(sink.data == archive_);
}

TEST_F(ClientEndToEndTest, StreamToDeliversConsecutivePiecesOfAtMostMaxRead) {
  TestServerOptions server;
  server.max_read_bytes = 64 * kKiB;
  StartServer(server);
  std::string collected;
  uint64_t expected_offset = 100;
  size_t largest_piece = 0;
  absl::StatusOr<uint64_t> streamed =
      Connect()->StreamTo(Ref(), 100, 10 * kMiB, [&](uint64_t offset, std::string_view bytes) {
        EXPECT_EQ(offset, expected_offset);
        expected_offset += bytes.size();
        largest_piece = std::max(largest_piece, bytes.size());
        collected.append(bytes);
        return absl::OkStatus();
      });
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(*streamed, archive_.size() - 100);
  EXPECT_TRUE(collected == archive_.substr(100));
  EXPECT_EQ(largest_piece, 64 * kKiB);
  EXPECT_EQ(server_->stream_calls(), 1);
}

TEST_F(ClientEndToEndTest, StreamArchiveKeepsAtMostMaxInFlightRequestsOutstanding) {
  TestServerOptions server;
  server.read_delay = std::chrono::milliseconds(15);
  StartServer(server);
  StringSink sink;
  std::vector<uint64_t> progress;
  StreamArchiveOptions stream;
  stream.max_in_flight = 4;
  stream.request_size = 128 * kKiB;
  stream.on_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, archive_.size());
    progress.push_back(done);
  };
  absl::StatusOr<StreamArchiveResult> result = Connect()->StreamArchive(Ref(), sink, stream);
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_TRUE(sink.data == archive_);
  EXPECT_EQ(sink.begun_with, archive_.size());
  EXPECT_TRUE(sink.finished);
  EXPECT_EQ(result->bytes, archive_.size());
  const int pieces =
      static_cast<int>((archive_.size() + stream.request_size - 1) / stream.request_size);
  EXPECT_EQ(server_->read_calls(), pieces);
  // The window is used (requests overlap) and never exceeded, as the server saw it.
  EXPECT_LE(server_->max_concurrent_reads(), 4);
  EXPECT_GE(server_->max_concurrent_reads(), 2);
  EXPECT_LE(result->max_in_flight_observed, 4);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front(), 0u);
  EXPECT_EQ(progress.back(), archive_.size());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
}

TEST_F(ClientEndToEndTest, UnavailableIsRetriedWithBackoff) {
  TestServerOptions server;
  server.fail_reads_unavailable = 3;
  StartServer(server);
  StringSink sink;
  StreamArchiveOptions stream;
  stream.max_in_flight = 2;
  stream.request_size = 512 * kKiB;
  absl::StatusOr<StreamArchiveResult> result = Connect()->StreamArchive(Ref(), sink, stream);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(sink.data == archive_);
  EXPECT_EQ(result->retries, 3u);
}

TEST_F(ClientEndToEndTest, RetriesEndAfterMaxAttempts) {
  TestServerOptions server;
  server.fail_reads_unavailable = 1000;
  StartServer(server);
  ClientOptions options = Options();
  options.retry.max_attempts = 3;
  std::unique_ptr<ChunkCacheClient> client = Connect(options);

  absl::StatusOr<v1::ReadRangeResponse> read = client->ReadRange(Ref(), 0, 10);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->read_calls(), 3);

  StringSink sink;
  absl::StatusOr<StreamArchiveResult> result = client->StreamArchive(Ref(), sink, {});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("ReadRange at offset"), absl::string_view::npos);
  EXPECT_NE(result.status().message().find("injected failure"), absl::string_view::npos);
  EXPECT_FALSE(sink.finished);
}

TEST_F(ClientEndToEndTest, StreamRangeResumesWhereItBrokeOff) {
  TestServerOptions server;
  server.max_read_bytes = 256 * kKiB;
  server.fail_stream_after_messages = 2;
  StartServer(server);
  StringSink sink;
  StreamArchiveOptions stream;
  stream.use_stream_range = true;
  absl::StatusOr<StreamArchiveResult> result = Connect()->StreamArchive(Ref(), sink, stream);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(sink.data == archive_);
  EXPECT_EQ(server_->stream_calls(), 2);
  EXPECT_EQ(result->retries, 1u);
}

TEST_F(ClientEndToEndTest, SilentStreamFailsWithDeadlineExceeded) {
  TestServerOptions server;
  server.stream_delay = std::chrono::seconds(3);
  StartServer(server);
  ClientOptions options = Options();
  options.rpc_deadline = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<uint64_t> streamed = Connect(options)->StreamTo(
      Ref(), 0, 100, [](uint64_t, std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(streamed.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ClientEndToEndTest, BearerTokenIsSentAsAuthorizationMetadata) {
  TestServerOptions server;
  server.required_token = "t0ken";
  StartServer(server);
  EXPECT_EQ(Connect()->Stat(Ref()).status().code(), absl::StatusCode::kUnauthenticated);
  ClientOptions options = Options();
  options.bearer_token = "t0ken";
  EXPECT_TRUE(Connect(options)->Stat(Ref()).ok());
}

TEST_F(ClientEndToEndTest, UnknownArchiveIsNotFound) {
  StartServer({});
  StringSink sink;
  absl::StatusOr<StreamArchiveResult> result =
      Connect()->StreamArchive(Ref("other.img.fidx"), sink, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("StatSnapshot"), absl::string_view::npos);
  EXPECT_EQ(sink.begun_with, 0u);
}

TEST_F(ClientEndToEndTest, ArchiveEndingBeforeItsReportedSizeIsDataLoss) {
  TestServerOptions server;
  server.reported_size_extra = 100;
  StartServer(server);
  for (bool use_stream : {false, true}) {
    StringSink sink;
    StreamArchiveOptions stream;
    stream.use_stream_range = use_stream;
    absl::StatusOr<StreamArchiveResult> result = Connect()->StreamArchive(Ref(), sink, stream);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << use_stream;
    EXPECT_FALSE(sink.finished);
  }
}

TEST_F(ClientEndToEndTest, SinkErrorStopsTheTransfer) {
  StartServer({});
  StringSink sink;
  sink.fail_on_append = 2;
  StreamArchiveOptions stream;
  stream.request_size = 64 * kKiB;
  absl::StatusOr<StreamArchiveResult> result = Connect()->StreamArchive(Ref(), sink, stream);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(sink.appends, 2);
  // Stopped early: far fewer than the 50 pieces were requested.
  EXPECT_LT(server_->read_calls(), 20);
}

TEST_F(ClientEndToEndTest, ClientOverAnExistingChannel) {
  StartServer({});
  ClientOptions options;
  options.use_tls = true;  // ignored: the channel is already made
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client =
      ChunkCacheClient::ForChannel(server_->InProcessChannel(), options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::string> read = (*client)->Read(Ref(), 10, 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, archive_.substr(10, 20));
  EXPECT_EQ(ChunkCacheClient::ForChannel(nullptr, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientEndToEndTest, UnreachableServerIsUnavailable) {
  StartServer({});
  const std::string address = server_->address();
  server_.reset();  // nothing listens on the port any more
  ClientOptions options;
  options.server_address = address;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = std::chrono::milliseconds(1);
  absl::StatusOr<v1::SnapshotInfo> info = Connect(options)->Stat(Ref());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(info.status().message().find(address), absl::string_view::npos);
}

// The remote subcommands, parsed and run as main() would run them.
struct CommandRun {
  int exit_code = 0;
  std::string out;
  std::string err;
};

CommandRun RunCommand(std::vector<std::string> args) {
  CLI::App app{"chunkcache"};
  RegisterReadCommand(app);
  RegisterRestoreCommand(app);
  RegisterStatCommand(app);
  RegisterBenchCommand(app);
  args.insert(args.begin(), "chunkcache");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  CommandRun run;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::RuntimeError& e) {
    run.exit_code = e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    run.exit_code = 2;
  }
  run.out = ::testing::internal::GetCapturedStdout();
  run.err = ::testing::internal::GetCapturedStderr();
  return run;
}

std::vector<std::string> ArchiveArgs(const std::string& command, const std::string& server) {
  return {command,      "--server", server,      "--datastore", "store",
          "--snapshot", kSnapshot,  "--archive", "disk.img"};
}

class ClientTlsTest : public ClientEndToEndTest {
 protected:
  void StartTlsServer(bool require_client_certificate) {
    grpc::SslServerCredentialsOptions ssl(
        require_client_certificate ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_root_certs = pki_.ca_cert_pem;
    ssl.pem_key_cert_pairs.push_back({pki_.server_key_pem, pki_.server_cert_pem});
    TestServerOptions server;
    server.credentials = grpc::SslServerCredentials(ssl);
    StartServer(server);
    testing::WriteFileBytes(dir_ / "ca.pem", pki_.ca_cert_pem);
    testing::WriteFileBytes(dir_ / "client.pem", pki_.client_cert_pem);
    testing::WriteFileBytes(dir_ / "client.key", pki_.client_key_pem);
  }

  ClientOptions TlsOptions() const {
    ClientOptions options = Options();
    options.use_tls = true;
    options.ca_cert_file = (dir_ / "ca.pem").string();
    options.retry.max_attempts = 1;  // a failed handshake is UNAVAILABLE: do not retry it
    return options;
  }

  const testing::TestPki pki_ = testing::MakeTestPki();
  testing::ScratchDir dir_;
};

TEST_F(ClientTlsTest, VerifiesTheServerAgainstTheGivenCa) {
  StartTlsServer(/*require_client_certificate=*/false);
  absl::StatusOr<v1::SnapshotInfo> info = Connect(TlsOptions())->Stat(Ref());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), archive_.size());

  ClientOptions plain = Options();  // no TLS against a TLS server
  plain.retry.max_attempts = 1;
  EXPECT_EQ(Connect(plain)->Stat(Ref()).status().code(), absl::StatusCode::kUnavailable);

  ClientOptions system_roots = TlsOptions();  // the test CA is not among the system's roots
  system_roots.ca_cert_file.clear();
  EXPECT_EQ(Connect(system_roots)->Stat(Ref()).status().code(), absl::StatusCode::kUnavailable);

  ClientOptions wrong_name = TlsOptions();  // the certificate names localhost, not this
  wrong_name.tls_server_name = "chunkcache.example";
  EXPECT_EQ(Connect(wrong_name)->Stat(Ref()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientTlsTest, MutualTlsSendsTheClientCertificate) {
  StartTlsServer(/*require_client_certificate=*/true);
  ClientOptions mutual = TlsOptions();
  mutual.tls_server_name = "localhost";
  mutual.client_cert_file = (dir_ / "client.pem").string();
  mutual.client_key_file = (dir_ / "client.key").string();
  absl::StatusOr<std::string> read = Connect(mutual)->Read(Ref(), 0, 100);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, archive_.substr(0, 100));

  EXPECT_EQ(Connect(TlsOptions())->Stat(Ref()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientTlsTest, RestoreCommandOverMutualTls) {
  StartTlsServer(/*require_client_certificate=*/true);
  const std::string out = (dir_ / "disk.raw").string();
  std::vector<std::string> args = ArchiveArgs("restore", server_->address());
  args.insert(args.end(),
              {"--out", out, "--tls", "--ca", (dir_ / "ca.pem").string(), "--cert",
               (dir_ / "client.pem").string(), "--key", (dir_ / "client.key").string()});
  const CommandRun run = RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(testing::ReadFileBytes(out) == archive_);
}

TEST_F(ClientEndToEndTest, RestoreCommandWritesASparseFileAndItsSha256) {
  StartServer({});
  Sha256Hasher expected;
  expected.Update(archive_);
  const std::string expected_hex = expected.HexDigest();
  for (const char* mode : {"--in-flight=3", "--stream"}) {
    testing::ScratchDir dir;
    const std::string out = (dir / "disk.raw").string();
    std::vector<std::string> args = ArchiveArgs("restore", server_->address());
    args.insert(args.end(), {"--out", out, "--sha256", mode, "--request-size", "256KiB"});
    const CommandRun run = RunCommand(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, expected_hex + "  " + out + "\n");
    EXPECT_TRUE(testing::ReadFileBytes(out) == archive_) << mode;
    struct stat info {};
    ASSERT_EQ(::stat(out.c_str(), &info), 0);
    // The 1 MiB zero run is a hole.
    EXPECT_LE(static_cast<uint64_t>(info.st_blocks) * 512, archive_.size() - kMiB / 2) << mode;
  }
}

TEST_F(ClientEndToEndTest, FailedRestoreRemovesTheFileItCreated) {
  StartServer({});
  testing::ScratchDir dir;
  const std::string out = (dir / "missing.raw").string();
  std::vector<std::string> args = ArchiveArgs("restore", server_->address());
  args.back() = "missing.img";
  args.insert(args.end(), {"--out", out});
  const CommandRun run = RunCommand(args);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("chunkcache: NOT_FOUND: restoring store:vm/100/2026-01-02T00:00:00Z/"
                         "missing.img.fidx: StatSnapshot on"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(ClientEndToEndTest, ReadCommandWritesTheRangeToStdout) {
  TestServerOptions server;
  server.max_read_bytes = 64 * kKiB;
  StartServer(server);
  for (const char* mode : {"--max-read=64KiB", "--stream"}) {
    std::vector<std::string> args = ArchiveArgs("read", server_->address());
    args.insert(args.end(), {"--offset", "1KiB", "--length", "200000", mode});
    const CommandRun run = RunCommand(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_TRUE(run.out == archive_.substr(1024, 200000)) << mode;
  }
  std::vector<std::string> past_end = ArchiveArgs("read", server_->address());
  past_end.insert(past_end.end(), {"--offset", std::to_string(archive_.size()), "--length", "1"});
  const CommandRun run = RunCommand(past_end);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("chunkcache: OUT_OF_RANGE: ReadRange at offset"), std::string::npos)
      << run.err;
}

TEST_F(ClientEndToEndTest, StatCommandPrintsTextAndJson) {
  StartServer({});
  CommandRun text = RunCommand(ArchiveArgs("stat", server_->address()));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("size             " + std::to_string(archive_.size())), std::string::npos)
      << text.out;
  std::vector<std::string> args = ArchiveArgs("stat", server_->address());
  args.push_back("--json");
  CommandRun json = RunCommand(args);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["size"], archive_.size());
  EXPECT_EQ(parsed["crypt_mode"], "none");
}

TEST_F(ClientEndToEndTest, LoadGeneratorCountsRequestsBytesAndLatencies) {
  StartServer({});
  ClientOptions options = Options();
  options.retry = RetryPolicy::NoRetries();
  std::unique_ptr<ChunkCacheClient> client = Connect(options);
  for (BenchRpc rpc : {BenchRpc::kReadRange, BenchRpc::kStreamRange}) {
    LoadOptions load;
    load.ref = Ref();
    load.concurrency = 4;
    load.request_size = 16 * kKiB;
    load.pattern = AccessPattern::kSequential;
    load.rpc = rpc;
    load.max_requests = 40;
    load.duration = std::chrono::seconds(20);
    absl::StatusOr<LoadReport> report = RunLoad(*client, load);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->requests_ok, 40u);
    EXPECT_EQ(report->requests_failed, 0u);
    EXPECT_EQ(report->bytes, 40 * 16 * kKiB);  // sequential from 0: whole pieces
    EXPECT_EQ(report->latency.count(), 40u);
    EXPECT_GT(report->latency.Percentile(0.5).count(), 0);
    EXPECT_LT(report->elapsed_seconds, 20.0);
  }
}

TEST_F(ClientEndToEndTest, LoadGeneratorStopsAtTheDurationAndCountsErrorsByCode) {
  TestServerOptions server;
  server.fail_reads_unavailable = 5;
  server.read_delay = std::chrono::milliseconds(2);
  StartServer(server);
  ClientOptions options = Options();
  options.retry = RetryPolicy::NoRetries();
  LoadOptions load;
  load.ref = Ref();
  load.concurrency = 2;
  // Long enough for well over 15 requests even under ThreadSanitizer on a loaded machine;
  // the load must stop soon after it.
  load.duration = std::chrono::seconds(2);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<LoadReport> report = RunLoad(*Connect(options), load);
  ASSERT_TRUE(report.ok()) << report.status();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::seconds(2));
  EXPECT_LT(elapsed, std::chrono::seconds(8));
  EXPECT_EQ(report->requests_failed, 5u);
  EXPECT_EQ(report->errors.at("UNAVAILABLE").count, 5u);
  EXPECT_EQ(report->errors.at("UNAVAILABLE").code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(report->errors.at("UNAVAILABLE").example.find("ReadRange at offset"), 0u);
  EXPECT_GT(report->requests_ok, 10u);
}

TEST_F(ClientEndToEndTest, BenchCommandExitsWithTheCodeOfItsErrors) {
  StartServer({});
  std::vector<std::string> args = ArchiveArgs("bench", server_->address());
  args.insert(args.end(), {"--request-size", "8MiB", "--requests", "4", "--duration", "20s"});
  const CommandRun run = RunCommand(args);
  EXPECT_EQ(run.exit_code, 2);  // over the server's max_read_bytes: a usage error
  EXPECT_NE(run.out.find("INVALID_ARGUMENT 4"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("chunkcache: INVALID_ARGUMENT: 4 of 4 requests failed"), std::string::npos)
      << run.err;
}

TEST_F(ClientEndToEndTest, BenchCommandPrintsJson) {
  StartServer({});
  std::vector<std::string> args = ArchiveArgs("bench", server_->address());
  args.insert(args.end(), {"--concurrency", "3", "--request-size", "32KiB", "--requests", "30",
                           "--duration", "20s", "--json", "--rpc", "read"});
  const CommandRun run = RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["requests_ok"], 30);
  EXPECT_EQ(json["requests_failed"], 0);
  EXPECT_GT(json["latency_ms"]["p99"].get<double>(), 0);
  EXPECT_TRUE(json["errors"].empty());
}

}  // namespace
}  // namespace chunkcache
