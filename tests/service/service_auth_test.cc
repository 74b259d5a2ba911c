// TLS, mTLS and per-client authorization, with a throwaway CA and certificates made by the
// openssl CLI: bearer tokens (configured as SHA-256 hashes) and certificate subjects, each
// allowed some datastores or namespaces; everything else is PERMISSION_DENIED, and calls
// without known credentials are UNAUTHENTICATED.
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr char kDisk[] = "drive-scsi0.img.fidx";
constexpr char kRoot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kTeam[] = "ns/team/vm/101/2026-01-01T00:00:00Z";
constexpr char kTeamSub[] = "ns/team/ns/sub/vm/102/2026-01-01T00:00:00Z";
constexpr char kOther[] = "ns/other/vm/103/2026-01-01T00:00:00Z";
constexpr char kReaderToken[] = "reader-token-5f0c2a";
constexpr char kAdminToken[] = "admin-token-91bd77";

std::string TokenHashFromChunkcached(const std::string& token) {
  const ProcessResult result = RunProcess({ChunkcachedBinary().string(), "--print-token-hash"},
                                          {.stdin_text = token + "\n"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  return std::string(absl::StripAsciiWhitespace(result.stdout_text));
}

class ServiceAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl"))
        << "the openssl CLI is needed to make test certificates";
    dir_ = new ScratchDir();
    const std::filesystem::path dir = dir_->path();
    MakeTestCa(dir, "ca");
    MakeTestCa(dir, "other-ca");
    MakeTestCert(dir, "ca", "server", "/CN=localhost",
                 "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    MakeTestCert(dir, "ca", "node-a", "/CN=node-a", "extendedKeyUsage=clientAuth");
    MakeTestCert(dir, "ca", "intruder", "/CN=intruder", "extendedKeyUsage=clientAuth");
    MakeTestCert(dir, "other-ca", "stranger", "/CN=node-a", "extendedKeyUsage=clientAuth");

    WriteFileBytes(dir / "disk.img", PseudoRandomBytes(70000, 3));
    for (const char* snapshot : {kRoot, kTeam, kTeamSub, kOther}) {
      CreateArchive(dir / "ds", snapshot, kDisk, dir / "disk.img");
    }
    const std::string reader_hash = TokenHashFromChunkcached(kReaderToken);
    ASSERT_EQ(reader_hash, Sha256Hex(kReaderToken));
    const std::string admin_hash = TokenHashFromChunkcached(kAdminToken);
    const std::string config = absl::StrCat(R"({
      "datastores": [{"name": "store", "path": ")",
                                            (dir / "ds").string(), R"("}],
      "tls": {"certFile": ")",
                                            (dir / "server.pem").string(), R"(",
              "keyFile": ")",
                                            (dir / "server.key").string(), R"(",
              "clientCaFile": ")",
                                            (dir / "ca.pem").string(), R"("},
      "clients": [
        {"name": "reader", "tokenSha256": ")",
                                            reader_hash, R"(", "allow": ["store:team"]},
        {"name": "admin", "token_sha256": ")",
                                            admin_hash, R"(", "allow": ["*"]},
        {"name": "node-a", "certSubject": "CN=node-a", "allow": ["store"]}
      ]
    })");
    WriteFileBytes(dir / "config.json", config);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::filesystem::path Dir() { return dir_->path(); }

  ClientOptions Tls(const std::string& token = "", const std::string& cert = "") {
    ClientOptions options;
    options.use_tls = true;
    options.ca_cert_file = (Dir() / "ca.pem").string();
    options.tls_server_name = "localhost";
    options.bearer_token = token;
    if (!cert.empty()) {
      options.client_cert_file = (Dir() / (cert + ".pem")).string();
      options.client_key_file = (Dir() / (cert + ".key")).string();
    }
    options.rpc_deadline = std::chrono::milliseconds(10000);
    return options;
  }

  static absl::StatusCode ReadCode(ChunkCacheClient& client, const std::string& snapshot,
                                   const std::string& datastore = "store") {
    return client.ReadRange(Ref(datastore, snapshot, kDisk), 0, 100).status().code();
  }

  static ScratchDir* dir_;
};

ScratchDir* ServiceAuthTest::dir_ = nullptr;

TEST_F(ServiceAuthTest, TokensAndCertificatesAreAuthorizedPerDatastoreAndNamespace) {
  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--config", (Dir() / "config.json").string()});
  ASSERT_NE(server, nullptr);
  const std::string address = server->address();

  std::unique_ptr<ChunkCacheClient> anonymous = ConnectClient(address, Tls());
  EXPECT_EQ(ReadCode(*anonymous, kRoot), absl::StatusCode::kUnauthenticated);
  absl::StatusOr<v1::SnapshotInfo> stat = anonymous->Stat(Ref("store", kRoot, kDisk));
  EXPECT_EQ(stat.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(stat.status().message().find("bearer token"), absl::string_view::npos);

  std::unique_ptr<ChunkCacheClient> wrong = ConnectClient(address, Tls("not-a-token"));
  EXPECT_EQ(ReadCode(*wrong, kRoot), absl::StatusCode::kUnauthenticated);

  std::unique_ptr<ChunkCacheClient> reader = ConnectClient(address, Tls(kReaderToken));
  EXPECT_EQ(ReadCode(*reader, kTeam), absl::StatusCode::kOk);
  EXPECT_EQ(ReadCode(*reader, kTeamSub), absl::StatusCode::kOk);
  EXPECT_EQ(ReadCode(*reader, kRoot), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ReadCode(*reader, kOther), absl::StatusCode::kPermissionDenied);
  // Restricted clients cannot probe for other datastores' names.
  EXPECT_EQ(ReadCode(*reader, kTeam, "secret"), absl::StatusCode::kPermissionDenied);
  absl::StatusOr<v1::ReadRangeResponse> denied =
      reader->ReadRange(Ref("store", kOther, kDisk), 0, 1);
  EXPECT_NE(denied.status().message().find("client reader may not read"), absl::string_view::npos)
      << denied.status();

  std::unique_ptr<ChunkCacheClient> admin = ConnectClient(address, Tls(kAdminToken));
  for (const char* snapshot : {kRoot, kTeam, kTeamSub, kOther}) {
    EXPECT_EQ(ReadCode(*admin, snapshot), absl::StatusCode::kOk) << snapshot;
  }
  EXPECT_EQ(ReadCode(*admin, kRoot, "secret"), absl::StatusCode::kNotFound);

  std::unique_ptr<ChunkCacheClient> node_a = ConnectClient(address, Tls("", "node-a"));
  EXPECT_EQ(ReadCode(*node_a, kRoot), absl::StatusCode::kOk);
  EXPECT_EQ(ReadCode(*node_a, kOther), absl::StatusCode::kOk);
  std::unique_ptr<ChunkCacheClient> intruder = ConnectClient(address, Tls("", "intruder"));
  EXPECT_EQ(ReadCode(*intruder, kRoot), absl::StatusCode::kUnauthenticated);
  // A token decides over the certificate it travels with.
  std::unique_ptr<ChunkCacheClient> reader_on_node_a =
      ConnectClient(address, Tls(kReaderToken, "node-a"));
  EXPECT_EQ(ReadCode(*reader_on_node_a, kRoot), absl::StatusCode::kPermissionDenied);

  // Plaintext to a TLS port does not get through at all.
  std::unique_ptr<ChunkCacheClient> plaintext = ConnectClient(address);
  EXPECT_EQ(ReadCode(*plaintext, kRoot), absl::StatusCode::kUnavailable);

  EXPECT_GE(server
                ->Metric("chunkcache_requests_total",
                         {{"rpc", "ReadRange"}, {"code", "PERMISSION_DENIED"}})
                .value_or(0),
            4);
  EXPECT_NE(server->Log().find("event=access_denied"), std::string::npos);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

TEST_F(ServiceAuthTest, RequiredClientCertificatesAreVerifiedAgainstTheClientCa) {
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--config", (Dir() / "config.json").string(), "--require-client-cert"});
  ASSERT_NE(server, nullptr);
  std::unique_ptr<ChunkCacheClient> node_a = ConnectClient(server->address(), Tls("", "node-a"));
  EXPECT_EQ(ReadCode(*node_a, kRoot), absl::StatusCode::kOk);
  // Without a certificate, or with one from another CA (even with the right subject), the
  // handshake fails.
  std::unique_ptr<ChunkCacheClient> token_only = ConnectClient(server->address(), Tls(kAdminToken));
  EXPECT_EQ(ReadCode(*token_only, kRoot), absl::StatusCode::kUnavailable);
  std::unique_ptr<ChunkCacheClient> stranger =
      ConnectClient(server->address(), Tls("", "stranger"));
  EXPECT_EQ(ReadCode(*stranger, kRoot), absl::StatusCode::kUnavailable);
  // The certificate gets the connection; the token still names the client.
  std::unique_ptr<ChunkCacheClient> reader =
      ConnectClient(server->address(), Tls(kReaderToken, "intruder"));
  EXPECT_EQ(ReadCode(*reader, kTeam), absl::StatusCode::kOk);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

}  // namespace
}  // namespace chunkcache::testing
