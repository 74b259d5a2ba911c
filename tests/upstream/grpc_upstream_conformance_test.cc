// The Upstream conformance suite against GrpcUpstream: the fixture is written as a PBS
// datastore, served by a real chunkcached process (with the fixture's key, so the encrypted
// chunk is decrypted and verified there), and read back over GetChunk, GetSnapshotFile,
// ListSnapshots and the health service. Chunks come back as verified plaintext rather than the
// stored blobs, so they are compared as decoded chunks (ChunkBytes::kEquivalent). GetChunk
// does not know a chunk's size, so each cold fill reserves the largest chunk (16 MiB): the
// cache is sized for the suite's eight concurrent readers.
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>

#include "format/key_file.h"
#include "tests/service/service_test_env.h"
#include "tests/upstream/upstream_conformance.h"
#include "upstream/grpc_upstream.h"

namespace chunkcache::testing {
namespace {

// A GrpcUpstream that owns the chunkcached process it reads from.
class ServedGrpcUpstream final : public Upstream {
 public:
  ServedGrpcUpstream(std::unique_ptr<ChunkcachedProcess> server,
                     std::unique_ptr<GrpcUpstream> upstream)
      : server_(std::move(server)), upstream_(std::move(upstream)) {}
  ~ServedGrpcUpstream() override {
    upstream_.reset();
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
  }

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override {
    return upstream_->ReadSnapshotFile(snapshot, file_name);
  }
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override {
    return upstream_->ReadChunk(digest, options);
  }
  bool DeliversPlaintext() const override { return upstream_->DeliversPlaintext(); }
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override {
    return upstream_->ListSnapshots();
  }
  absl::Status CheckReadable() override { return upstream_->CheckReadable(); }
  std::string Describe() const override { return upstream_->Describe(); }

 private:
  std::unique_ptr<ChunkcachedProcess> server_;
  std::unique_ptr<GrpcUpstream> upstream_;
};

absl::StatusOr<std::shared_ptr<Upstream>> MakeGrpc(const UpstreamFixture& fixture,
                                                   const std::filesystem::path& scratch) {
  const std::filesystem::path dir = scratch / "datastore";
  if (absl::Status written = WriteFixtureDatastore(fixture, dir); !written.ok()) return written;
  absl::StatusOr<std::string> key_file =
      CreateKeyFile(fixture.key, KeyDerivation::kNone, std::nullopt, "2026-01-01T00:00:00Z");
  if (!key_file.ok()) return key_file.status();
  WriteFileBytes(scratch / "key.json", *key_file);
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--datastore", "rack-store=" + dir.string(), "--keyfile",
       "rack-store=" + (scratch / "key.json").string(), "--cache-bytes", "512MiB"});
  if (server == nullptr) return absl::UnavailableError("chunkcached did not start");
  GrpcUpstreamOptions options;
  options.target = server->address();
  options.datastore = "rack-store";
  options.timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<GrpcUpstream>> upstream = GrpcUpstream::Create(options);
  if (!upstream.ok()) return upstream.status();
  return std::shared_ptr<Upstream>(
      std::make_shared<ServedGrpcUpstream>(std::move(server), *std::move(upstream)));
}

INSTANTIATE_TEST_SUITE_P(Grpc, UpstreamConformanceTest,
                         ::testing::Values(UpstreamImplementation{"grpc", MakeGrpc,
                                                                  ChunkBytes::kEquivalent}),
                         UpstreamImplementationName);

TEST(GrpcUpstreamTest, DescribesItselfAndRejectsBadOptions) {
  absl::StatusOr<std::unique_ptr<GrpcUpstream>> upstream =
      GrpcUpstream::Create({.target = "rack-a:7070", .datastore = "store1"});
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  EXPECT_EQ((*upstream)->Describe(), "grpc rack-a:7070/store1");

  for (const char* target : {"", "rack-a", "rack-a:", "rack-a:0", "rack-a:70000", ":7070",
                             "::1:7070", "rack a:7070", "http://rack-a:7070", "unix:"}) {
    absl::StatusOr<std::unique_ptr<GrpcUpstream>> bad =
        GrpcUpstream::Create({.target = target, .datastore = "store1"});
    EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << "'" << target << "': " << bad.status();
  }
  for (const char* target : {"[::1]:7070", "10.0.0.1:1", "unix:/run/chunkcache.sock"}) {
    EXPECT_TRUE(ValidateGrpcTarget(target, "target").ok()) << target;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      GrpcUpstream::Create({.target = "rack-a:7070", .datastore = ""}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      GrpcUpstream::Create(
          {.target = "rack-a:7070", .datastore = "s", .timeout = absl::ZeroDuration()})
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      GrpcUpstream::Create({.target = "rack-a:7070", .datastore = "s", .cert_pem = "x"}).status()));
}

TEST(GrpcUpstreamTest, UnreachableRemoteIsUnavailable) {
  absl::StatusOr<std::unique_ptr<GrpcUpstream>> upstream = GrpcUpstream::Create(
      {.target = "127.0.0.1:" + std::to_string(FreeTcpPort()), .datastore = "store1"});
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  EXPECT_TRUE(absl::IsUnavailable((*upstream)->CheckReadable())) << (*upstream)->CheckReadable();
  absl::StatusOr<std::string> chunk = (*upstream)->ReadChunk(Sha256("x"));
  EXPECT_TRUE(absl::IsUnavailable(chunk.status())) << chunk.status();
  absl::StatusOr<std::vector<SnapshotName>> listed = (*upstream)->ListSnapshots();
  EXPECT_TRUE(absl::IsUnavailable(listed.status())) << listed.status();
}

}  // namespace
}  // namespace chunkcache::testing
