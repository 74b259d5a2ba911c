// PbsUpstream against the test PBS server (tests/pbs/pbs_test_server.py: real TLS, real
// HTTP/2, the reader protocol): the Upstream conformance suite, the certificate and credential
// checks, password login with ticket renewal, the server's stream limit, and every transport
// fault (connection drop, GOAWAY, RST_STREAM, refused upgrades, missing chunks, a server that
// is gone) with exact bytes or the documented code.
#include "upstream/pbs/pbs_upstream.h"

#include <atomic>
#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include "format/blob.h"
#include "tests/upstream/pbs_test_server_process.h"
#include "tests/upstream/upstream_conformance.h"

namespace chunkcache::testing {
namespace {

// A PbsUpstream that owns the test server it reads from.
class ServedPbsUpstream final : public Upstream {
 public:
  ServedPbsUpstream(std::unique_ptr<PbsTestServerProcess> server,
                    std::unique_ptr<PbsUpstream> upstream)
      : server_(std::move(server)), upstream_(std::move(upstream)) {}
  ~ServedPbsUpstream() override { upstream_.reset(); }

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override {
    return upstream_->ReadSnapshotFile(snapshot, file_name);
  }
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override {
    return upstream_->ReadChunk(digest, options);
  }
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override {
    return upstream_->ListSnapshots();
  }
  absl::Status CheckReadable() override { return upstream_->CheckReadable(); }
  std::string Describe() const override { return upstream_->Describe(); }

 private:
  std::unique_ptr<PbsTestServerProcess> server_;
  std::unique_ptr<PbsUpstream> upstream_;
};

PbsUpstreamOptions OptionsFor(const PbsTestServerProcess& server) {
  PbsUpstreamOptions options;
  options.url = server.url();
  options.datastore = "store1";
  options.auth_id = kPbsTestTokenId;
  options.secret = kPbsTestTokenSecret;
  options.fingerprint = server.fingerprint();
  options.timeout = absl::Seconds(20);
  return options;
}

absl::StatusOr<std::shared_ptr<Upstream>> MakePbs(const UpstreamFixture& fixture,
                                                  const std::filesystem::path& scratch) {
  const std::filesystem::path dir = scratch / "datastore";
  if (absl::Status written = WriteFixtureDatastore(fixture, dir); !written.ok()) return written;
  std::unique_ptr<PbsTestServerProcess> server =
      PbsTestServerProcess::Start({.datastores = {{"store1", dir}}});
  if (server == nullptr) return absl::UnavailableError("the test PBS server did not start");
  absl::StatusOr<std::unique_ptr<PbsUpstream>> upstream = PbsUpstream::Create(OptionsFor(*server));
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(
      std::make_shared<ServedPbsUpstream>(std::move(server), *std::move(upstream)));
}

INSTANTIATE_TEST_SUITE_P(Pbs, UpstreamConformanceTest,
                         ::testing::Values(UpstreamImplementation{"pbs", MakePbs}),
                         UpstreamImplementationName);

// The standard fixture in a datastore served by a test server, and a client for it.
class PbsUpstreamTest : public ::testing::Test {
 protected:
  void StartServer(PbsTestServerOptions options = {},
                   UpstreamFixture fixture = StandardUpstreamFixture()) {
    fixture_ = std::move(fixture);
    ASSERT_TRUE(WriteFixtureDatastore(fixture_, scratch_ / "datastore").ok());
    options.datastores = {{"store1", scratch_ / "datastore"}};
    server_ = PbsTestServerProcess::Start(options);
    ASSERT_NE(server_, nullptr);
  }
  std::unique_ptr<PbsUpstream> Connect(PbsUpstreamOptions options) {
    absl::StatusOr<std::unique_ptr<PbsUpstream>> upstream = PbsUpstream::Create(options);
    EXPECT_TRUE(upstream.ok()) << upstream.status();
    return upstream.ok() ? *std::move(upstream) : nullptr;
  }
  // Reads every chunk of the fixture (for its snapshot) `rounds` times and checks the bytes.
  void ReadAllChunks(PbsUpstream& upstream, int rounds) {
    for (int round = 0; round < rounds; ++round) {
      for (const auto& [digest, blob] : fixture_.chunks) {
        absl::StatusOr<std::string> got =
            upstream.ReadChunk(digest, ReferenceFor(fixture_, digest));
        ASSERT_TRUE(got.ok()) << digest.Hex() << ": " << got.status() << "\n" << server_->Stderr();
        EXPECT_EQ(*got, blob) << digest.Hex();
      }
    }
  }
  int64_t Stat(const char* name) {
    const nlohmann::json stats = server_->Stats();
    return stats.contains(name) && stats[name].is_number() ? stats[name].get<int64_t>() : -1;
  }

  ScratchDir scratch_;
  UpstreamFixture fixture_;
  std::unique_ptr<PbsTestServerProcess> server_;
};

TEST_F(PbsUpstreamTest, FingerprintMismatchIsRefusedNamingBothFingerprints) {
  StartServer();
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.fingerprint = std::string(95, '0');
  for (size_t i = 2; i < options.fingerprint.size(); i += 3) options.fingerprint[i] = ':';
  std::unique_ptr<PbsUpstream> upstream = Connect(options);
  ASSERT_NE(upstream, nullptr);
  absl::StatusOr<std::string> manifest =
      upstream->ReadSnapshotFile(fixture_.listed_snapshots[0], "index.json.blob");
  EXPECT_TRUE(absl::IsFailedPrecondition(manifest.status())) << manifest.status();
  EXPECT_NE(manifest.status().message().find(options.fingerprint), std::string::npos);
  EXPECT_NE(manifest.status().message().find(server_->fingerprint()), std::string::npos);
  EXPECT_EQ(Stat("upgrades"), 0);
}

TEST_F(PbsUpstreamTest, WithoutFingerprintTheChainIsVerifiedAgainstTheCa) {
  StartServer();
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.fingerprint.clear();
  std::unique_ptr<PbsUpstream> untrusted = Connect(options);  // system CAs only
  absl::StatusOr<std::string> refused =
      untrusted->ReadSnapshotFile(fixture_.listed_snapshots[0], "index.json.blob");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find(server_->fingerprint()), std::string::npos)
      << "the error should show the fingerprint to pin: " << refused.status();

  options.ca_pem = server_->cert_pem();  // self-signed: the certificate is its own CA
  std::unique_ptr<PbsUpstream> trusted = Connect(options);
  absl::StatusOr<std::string> manifest =
      trusted->ReadSnapshotFile(fixture_.listed_snapshots[0], "index.json.blob");
  EXPECT_TRUE(manifest.ok()) << manifest.status();
}

TEST_F(PbsUpstreamTest, WrongTokenIsFailedPreconditionNamingTheAuthIdNotTheSecret) {
  StartServer();
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.secret = "wrong-secret-value";
  std::unique_ptr<PbsUpstream> upstream = Connect(options);
  absl::StatusOr<std::string> manifest =
      upstream->ReadSnapshotFile(fixture_.listed_snapshots[0], "index.json.blob");
  EXPECT_TRUE(absl::IsFailedPrecondition(manifest.status())) << manifest.status();
  EXPECT_NE(manifest.status().message().find(kPbsTestTokenId), std::string::npos);
  EXPECT_EQ(manifest.status().message().find("wrong-secret-value"), std::string::npos);
  EXPECT_FALSE(upstream->CheckReadable().ok());
}

TEST_F(PbsUpstreamTest, PasswordLoginRenewsAnExpiredTicket) {
  StartServer({.tokens = {}, .passwords = {"alice@pbs:correct horse"}});
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.auth_id = "alice@pbs";
  options.secret = "correct horse";
  std::unique_ptr<PbsUpstream> upstream = Connect(options);
  ReadAllChunks(*upstream, 1);
  EXPECT_EQ(upstream->counters().logins.load(), 1u);
  ASSERT_TRUE(server_->SetFaults({{"expire_tickets", true}}));
  // Another snapshot needs a new upgrade, which the expired ticket cannot do: log in again.
  absl::StatusOr<std::string> manifest =
      upstream->ReadSnapshotFile(fixture_.listed_snapshots[2], "index.json.blob");
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(upstream->counters().logins.load(), 2u);
  EXPECT_TRUE(upstream->CheckReadable().ok());
}

// A server that lets the client's order decide, as PBS does, gets AES-128-GCM: the cheaper
// cipher for the chunk bytes.
TEST_F(PbsUpstreamTest, OffersAes128GcmFirst) {
  StartServer();
  std::unique_ptr<PbsUpstream> upstream = Connect(OptionsFor(*server_));
  ReadAllChunks(*upstream, 1);
  const nlohmann::json ciphers = server_->Stats()["ciphers"];
  ASSERT_TRUE(ciphers.is_object()) << server_->Stats().dump();
  EXPECT_EQ(ciphers.size(), 1u) << ciphers.dump();
  EXPECT_TRUE(ciphers.contains("TLS_AES_128_GCM_SHA256")) << ciphers.dump();
}

TEST_F(PbsUpstreamTest, StaysWithinTheServersStreamLimit) {
  StartServer({.max_concurrent_streams = 3});
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.max_streams = 100;
  std::unique_ptr<PbsUpstream> upstream = Connect(options);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 4; ++round) {
        const auto& [digest, blob] = fixture_.chunks[(t + round) % fixture_.chunks.size()];
        absl::StatusOr<std::string> got =
            upstream->ReadChunk(digest, ReferenceFor(fixture_, digest));
        if (!got.ok() || *got != blob) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0) << server_->Stderr();
  const int64_t max_streams = Stat("max_streams_in_flight");
  EXPECT_GE(max_streams, 1);
  EXPECT_LE(max_streams, 3);
  EXPECT_EQ(upstream->counters().streams_in_flight.load(), 0);
}

// Each transport fault, injected after a few chunks, is survived with exact bytes.
TEST_F(PbsUpstreamTest, SurvivesConnectionFaultsWithExactBytes) {
  StartServer();
  std::unique_ptr<PbsUpstream> upstream = Connect(OptionsFor(*server_));
  ReadAllChunks(*upstream, 1);
  const std::vector<nlohmann::json> faults = {
      {{"drop_connection_after_chunks", 2}},
      {{"goaway_after_chunks", 2}},
      {{"rst_stream_after_chunks", 1}},
  };
  for (const nlohmann::json& fault : faults) {
    SCOPED_TRACE(fault.dump());
    ASSERT_TRUE(server_->ResetFaults());
    ASSERT_TRUE(server_->SetFaults(fault));
    ReadAllChunks(*upstream, 3);
  }
  EXPECT_GE(upstream->counters().reconnects.load(), 2u);
  // Only the reset stream is certain to hit a request in flight: whether a dropped connection
  // or a GOAWAY catches one depends on how the reads interleave with the fault.
  EXPECT_GE(upstream->counters().request_retries.load(), 1u);
  // A reader session refused twice (503) is retried until it opens.
  ASSERT_TRUE(server_->ResetFaults());
  ASSERT_TRUE(server_->SetFaults({{"refuse_upgrades", 2}, {"drop_connection_after_chunks", 1}}));
  ReadAllChunks(*upstream, 1);
}

// 4 MiB chunks: most of each DATA frame's payload is read from TLS straight into the response
// body; the bytes stay exact when frames of several streams interleave (512 KiB slices under a
// bandwidth cap) and when a stream is reset or the connection dropped in the middle of a body.
TEST_F(PbsUpstreamTest, LargeChunksAreReadInPlaceWithExactBytes) {
  constexpr size_t kChunkSize = 4 << 20;
  StartServer({}, LargeChunkUpstreamFixture(kChunkSize, 3));
  std::unique_ptr<PbsUpstream> upstream = Connect(OptionsFor(*server_));
  ReadAllChunks(*upstream, 2);
  const uint64_t in_place = upstream->counters().body_bytes_in_place.load();
  EXPECT_GE(in_place, 6 * kChunkSize / 2) << "most payload bytes should be read in place";
  EXPECT_LE(in_place, 6 * (kChunkSize + 16));

  ASSERT_TRUE(server_->SetFaults({{"bandwidth_bytes_per_s", 100'000'000}}));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < fixture_.chunks.size(); ++i) {
        const auto& [digest, blob] = fixture_.chunks[(t + i) % fixture_.chunks.size()];
        absl::StatusOr<std::string> got =
            upstream->ReadChunk(digest, ReferenceFor(fixture_, digest));
        if (!got.ok() || *got != blob) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0) << server_->Stderr();
  EXPECT_GT(upstream->counters().body_bytes_in_place.load(), in_place);

  for (const nlohmann::json& fault : {nlohmann::json{{"rst_stream_after_chunks", 1}},
                                      nlohmann::json{{"drop_connection_after_chunks", 1}}}) {
    SCOPED_TRACE(fault.dump());
    ASSERT_TRUE(server_->ResetFaults());
    ASSERT_TRUE(server_->SetFaults(fault));
    ReadAllChunks(*upstream, 2);
  }
  EXPECT_EQ(upstream->counters().streams_in_flight.load(), 0);
}

TEST_F(PbsUpstreamTest, MissingChunkOnTheServerIsNotFoundNamingIt) {
  StartServer();
  std::unique_ptr<PbsUpstream> upstream = Connect(OptionsFor(*server_));
  const auto& [digest, blob] = fixture_.chunks[0];
  ASSERT_TRUE(server_->SetFaults({{"missing_chunks", {digest.Hex()}}}));
  absl::StatusOr<std::string> got = upstream->ReadChunk(digest, ReferenceFor(fixture_, digest));
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_NE(got.status().message().find(digest.Hex()), std::string::npos);
  EXPECT_EQ(Stat("chunk_401"), 0) << "the chunk must not be asked for before its index";
}

TEST_F(PbsUpstreamTest, ServerGoneIsUnavailableWithinTheTimeout) {
  StartServer();
  PbsUpstreamOptions options = OptionsFor(*server_);
  options.timeout = absl::Seconds(3);
  std::unique_ptr<PbsUpstream> upstream = Connect(options);
  ReadAllChunks(*upstream, 1);
  server_->Kill();
  const auto& [digest, blob] = fixture_.chunks[0];
  absl::StatusOr<std::string> got = upstream->ReadChunk(digest, ReferenceFor(fixture_, digest));
  EXPECT_TRUE(absl::IsUnavailable(got.status()) || absl::IsDeadlineExceeded(got.status()))
      << got.status();
  EXPECT_FALSE(upstream->CheckReadable().ok());
}

TEST_F(PbsUpstreamTest, ChunkWithoutSnapshotIsReadThroughAnOpenSessionOnly) {
  StartServer();
  std::unique_ptr<PbsUpstream> upstream = Connect(OptionsFor(*server_));
  const auto& [digest, blob] = fixture_.chunks[0];
  absl::StatusOr<std::string> cold = upstream->ReadChunk(digest);
  EXPECT_TRUE(absl::IsFailedPrecondition(cold.status())) << cold.status();
  const ChunkReadOptions reference = ReferenceFor(fixture_, digest);
  ASSERT_TRUE(upstream->ReadSnapshotFile(*reference.snapshot, reference.archive).ok());
  absl::StatusOr<std::string> warm = upstream->ReadChunk(digest);
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ(*warm, blob);
}

TEST(PbsUpstreamOptionsTest, RejectsBadOptions) {
  PbsUpstreamOptions good;
  good.url = "https://pbs.example:8007";
  good.datastore = "store1";
  good.auth_id = "restore@pbs!node1";
  good.secret = "s";
  EXPECT_TRUE(ValidatePbsUpstreamOptions(good).ok());
  for (const char* url : {"http://pbs:8007", "https://", "https://pbs:0", "https://pbs:8007/x",
                          "https://user@pbs", "pbs:8007", "https://pbs:99999"}) {
    PbsUpstreamOptions bad = good;
    bad.url = url;
    EXPECT_TRUE(absl::IsInvalidArgument(ValidatePbsUpstreamOptions(bad))) << url;
  }
  for (const char* auth_id : {"", "root", "@pam", "root@", "a@b!", "a@b!c!d", "a b@pam"}) {
    PbsUpstreamOptions bad = good;
    bad.auth_id = auth_id;
    EXPECT_TRUE(absl::IsInvalidArgument(ValidatePbsUpstreamOptions(bad))) << auth_id;
  }
  PbsUpstreamOptions bad = good;
  bad.fingerprint = "aa:bb";
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePbsUpstreamOptions(bad)));
  absl::StatusOr<std::string> fp = NormalizeFingerprint(std::string(64, 'A'), "fingerprint");
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(fp->size(), 95u);
  EXPECT_EQ(fp->substr(0, 6), "aa:aa:");
  absl::StatusOr<PbsEndpoint> endpoint = ParsePbsUrl("https://[::1]/", "url");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->HostPort(), "[::1]:8007");
}

}  // namespace
}  // namespace chunkcache::testing
