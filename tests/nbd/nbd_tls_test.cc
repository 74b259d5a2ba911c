// NBD over TLS (NBD_OPT_STARTTLS) against libnbd: the server uses the gRPC side's certificate,
// key and client CA, requires TLS whenever it is configured, maps client certificates to
// clients[] by subject and applies their allow rules to export names. Certificates are made
// by the openssl CLI; the clients are nbdsh's Python module (tests/nbd/nbd_interop.py tls).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = 4 << 20;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kExport[] = "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";

// libnbd's tls-certificates directory: the CA it verifies the server with, and optionally a
// client certificate.
std::filesystem::path LibnbdCertDir(const std::filesystem::path& dir, const std::string& ca,
                                    const std::string& client) {
  constexpr auto kOverwrite = std::filesystem::copy_options::overwrite_existing;
  const std::filesystem::path out = dir / absl::StrCat("libnbd-", ca, "-", client);
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(dir / (ca + ".pem"), out / "ca-cert.pem", kOverwrite);
  if (!client.empty()) {
    std::filesystem::copy_file(dir / (client + ".pem"), out / "client-cert.pem", kOverwrite);
    std::filesystem::copy_file(dir / (client + ".key"), out / "client-key.pem", kOverwrite);
  }
  return out;
}

class NbdTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    const std::filesystem::path& dir = dir_->path();
    MakeTestCa(dir, "ca");
    MakeTestCa(dir, "other-ca");
    MakeTestCert(dir, "ca", "server", "/CN=localhost",
                 "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    MakeTestCert(dir, "ca", "node-a", "/O=example/CN=node-a", "extendedKeyUsage=clientAuth");
    MakeTestCert(dir, "ca", "intruder", "/CN=intruder", "extendedKeyUsage=clientAuth");
    // The right subject from the wrong CA.
    MakeTestCert(dir, "other-ca", "stranger", "/O=example/CN=node-a",
                 "extendedKeyUsage=clientAuth");
    image_ = new std::string(PseudoRandomBytes(3 * kChunk, 21));
    WriteFileBytes(dir / "disk.img", *image_);
    CreateArchive(dir / "ds", kSnapshot, "drive-scsi0.img.fidx", dir / "disk.img");
    CreateArchive(dir / "other", kSnapshot, "drive-scsi0.img.fidx", dir / "disk.img");
  }
  static void TearDownTestSuite() {
    delete image_;
    delete dir_;
  }

  // A server with TLS on NBD (and gRPC); `clients` is the JSON of clients[] ("" for none).
  static std::unique_ptr<ChunkcachedProcess> StartServer(const std::string& name,
                                                         const std::string& clients) {
    const std::filesystem::path& dir = dir_->path();
    const std::string config = absl::StrCat(
        R"({"tls": {"certFile": ")", (dir / "server.pem").string(), R"(", "keyFile": ")",
        (dir / "server.key").string(), R"(", "clientCaFile": ")", (dir / "ca.pem").string(),
        R"("}, "nbd": {"listen": "127.0.0.1:0", "exports": [")", kExport, R"("]})",
        clients.empty() ? "" : ", \"clients\": ", clients, "}");
    WriteFileBytes(dir / (name + ".json"), config);
    return ChunkcachedProcess::Start({"--config", (dir / (name + ".json")).string(), "--datastore",
                                      "store=" + (dir / "ds").string(), "--datastore",
                                      "other=" + (dir / "other").string()});
  }

  // nbd_interop.py tls as `client` (a cert name, "" for none) trusting `ca` ("" for no TLS).
  static ProcessResult Client(const ChunkcachedProcess& server, const std::string& ca,
                              const std::string& client, const std::string& expect) {
    const std::string certs = ca.empty() ? "" : LibnbdCertDir(dir_->path(), ca, client).string();
    return RunProcess({"/usr/bin/python3", (SourceDir() / "tests/nbd/nbd_interop.py").string(),
                       "tls", "--port", std::to_string(server.nbd_port()), "--export", kExport,
                       "--image", (dir_->path() / "disk.img").string(), "--certs", certs,
                       "--expect", expect});
  }

  static ScratchDir* dir_;
  static std::string* image_;
};

ScratchDir* NbdTlsTest::dir_ = nullptr;
std::string* NbdTlsTest::image_ = nullptr;

// clients[]: node-a (by the subject gRPC would report for its certificate) may read "store";
// intruder may read only "other".
constexpr char kClients[] = R"([
  {"name": "node-a", "certSubject": "CN=node-a,O=example", "allow": ["store"]},
  {"name": "intruder", "certSubject": "CN=intruder", "allow": ["other"]}])";

TEST_F(NbdTlsTest, ConfiguredClientCertificateReadsItsExport) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("auth", kClients);
  ASSERT_NE(server, nullptr);
  const ProcessResult result = Client(*server, "ca", "node-a", "read");
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text << server->Log();
  EXPECT_GE(server->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "ok"}})
                .value_or(0),
            2);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

TEST_F(NbdTlsTest, RefusalsWithClientsConfigured) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("auth", kClients);
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string what, ca, client, expect;
  };
  const std::vector<Case> cases = {
      {"a client whose allow rules do not cover the export", "ca", "intruder", "denied"},
      {"TLS without a client certificate", "ca", "", "denied"},
      {"no TLS at all (FORCEDTLS)", "", "", "denied"},
      {"a client that does not trust the server's CA", "other-ca", "", "handshake-fails"},
      // The server asks for certificates of its client CA: libnbd (GnuTLS) then sends none,
      // and the client is refused as one without a certificate.
      {"the right subject signed by another CA", "ca", "stranger", "handshake-fails"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const ProcessResult result = Client(*server, c.ca, c.client, c.expect);
    EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  }
  // Nothing was read, and the server is still serving the allowed client.
  EXPECT_EQ(server->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "ok"}})
                .value_or(0),
            0);
  const ProcessResult allowed = Client(*server, "ca", "node-a", "read");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.stdout_text << allowed.stderr_text;
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

// TLS without clients[]: encryption only; a client without a certificate reads, and a client
// that skips TLS is still refused.
TEST_F(NbdTlsTest, TlsWithoutClientsServesAnyTlsClient) {
  std::unique_ptr<ChunkcachedProcess> server = StartServer("open", "");
  ASSERT_NE(server, nullptr);
  const ProcessResult without_cert = Client(*server, "ca", "", "read");
  EXPECT_EQ(without_cert.exit_code, 0)
      << without_cert.stdout_text << without_cert.stderr_text << server->Log();
  const ProcessResult with_cert = Client(*server, "ca", "node-a", "read");
  EXPECT_EQ(with_cert.exit_code, 0) << with_cert.stdout_text << with_cert.stderr_text;
  const ProcessResult plain = Client(*server, "", "", "denied");
  EXPECT_EQ(plain.exit_code, 0) << plain.stdout_text << plain.stderr_text;
  // The whole image over TLS with many requests in flight on four connections: replies of
  // arena slices written by SSL_write, several records each, partly as the socket takes them.
  const std::filesystem::path copied = dir_->path() / "copied.raw";
  const ProcessResult copy = RunProcess(
      {"/usr/bin/nbdcopy", "--connections=4", "--requests=16",
       absl::StrCat("nbds://127.0.0.1:", server->nbd_port(), "/", kExport,
                    "?tls-certificates=", LibnbdCertDir(dir_->path(), "ca", "").string()),
       copied.string()});
  ASSERT_EQ(copy.exit_code, 0) << copy.stderr_text << server->Log();
  EXPECT_TRUE(ReadFileBytes(copied) == *image_);
  std::filesystem::remove(copied);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

// A remote nbd.listen is refused without client authentication, allowed with clients[] that
// authenticate by certificate; clients[] without a client CA cannot serve NBD at all.
TEST_F(NbdTlsTest, SecurityRulesOfTheListenAddress) {
  const std::filesystem::path& dir = dir_->path();
  auto check = [&](const std::string& name, const std::string& config) {
    WriteFileBytes(dir / (name + ".json"), config);
    return RunProcess({ChunkcachedBinary().string(), "--config", (dir / (name + ".json")).string(),
                       "--datastore", "store=" + (dir / "ds").string(), "--datastore",
                       "other=" + (dir / "other").string(), "--check-config"});
  };
  const std::string tls = absl::StrCat(
      R"("tls": {"certFile": ")", (dir / "server.pem").string(), R"(", "keyFile": ")",
      (dir / "server.key").string(), R"(", "clientCaFile": ")", (dir / "ca.pem").string(), R"("})");
  const ProcessResult open_remote =
      check("remote-open", absl::StrCat("{", tls, R"(, "nbd": {"listen": "0.0.0.0:0"}})"));
  EXPECT_EQ(open_remote.exit_code, 2) << open_remote.stderr_text;
  EXPECT_NE(open_remote.stderr_text.find("nbd.listen"), std::string::npos)
      << open_remote.stderr_text;
  const ProcessResult authenticated =
      check("remote-auth", absl::StrCat("{", tls, R"(, "listen": "0.0.0.0:0", "clients": )",
                                        kClients, R"(, "nbd": {"listen": "0.0.0.0:0"}})"));
  EXPECT_EQ(authenticated.exit_code, 0) << authenticated.stderr_text;
  const ProcessResult no_ca = check(
      "no-ca", absl::StrCat(R"({"clients": [{"name": "t", "tokenSha256": ")", std::string(64, 'a'),
                            R"(", "allow": ["store"]}], "nbd": {"listen": "127.0.0.1:0"}})"));
  EXPECT_EQ(no_ca.exit_code, 2) << no_ca.stderr_text;
  EXPECT_NE(no_ca.stderr_text.find("tls.client_ca_file"), std::string::npos) << no_ca.stderr_text;
}

}  // namespace
}  // namespace chunkcache::testing
