// chunkcached's NBD export against the real NBD clients of Debian: libnbd (nbdsh's Python
// module, nbdinfo, nbdcopy), qemu-img, and nbdkit's file plugin serving the same raw image as
// the reference. Real server processes on loopback, real datastores made by the CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/digest.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr uint64_t kChunk = 4 << 20;
constexpr char kSnapshot[] = "vm/100/2026-01-01T00:00:00Z";
constexpr char kFixedExport[] = "store/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx";
constexpr char kDynamicExport[] = "store/ct/200/2026-01-02T00:00:00Z/root.pxar.didx";
constexpr char kEncryptedExport[] = "enc/vm/300/2026-01-03T00:00:00Z/drive-scsi0.img.fidx";

std::filesystem::path InteropScript() { return SourceDir() / "tests/nbd/nbd_interop.py"; }

// Chunks 1 and 3 are zero chunks, written as holes; the last chunk is short (but a whole number
// of sectors: qemu rounds an export's size up to one).
std::string ImageBytes() {
  std::string image = PseudoRandomBytes(5 * kChunk + 241 * 512, 7);
  std::fill(image.begin() + kChunk, image.begin() + 2 * kChunk, '\0');
  std::fill(image.begin() + 3 * kChunk, image.begin() + 4 * kChunk, '\0');
  return image;
}

void WriteSparse(const std::filesystem::path& path, const std::string& image) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  for (uint64_t offset = 0; offset < image.size(); offset += kChunk) {
    const uint64_t length = std::min<uint64_t>(kChunk, image.size() - offset);
    if (image.compare(offset, length, std::string(length, '\0')) == 0) continue;
    ASSERT_EQ(pwrite(fd, image.data() + offset, length, static_cast<off_t>(offset)),
              static_cast<ssize_t>(length));
  }
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(image.size())), 0);
  close(fd);
}

uint64_t AllocatedBytes(const std::filesystem::path& path) {
  struct stat info {};
  stat(path.c_str(), &info);
  return static_cast<uint64_t>(info.st_blocks) * 512;
}

std::string Uri(int port, const std::string& name) {
  return absl::StrCat("nbd://127.0.0.1:", port, "/", name);
}

bool WaitForPort(int port) {
  for (int i = 0; i < 600; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class NbdInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    image_ = new std::string(ImageBytes());
    WriteSparse(*dir_ / "disk.img", *image_);
    CreateArchive(*dir_ / "ds", kSnapshot, "drive-scsi0.img.fidx", *dir_ / "disk.img");
    // A stream with a long run of zeros, cut into repeated chunks by the chunker.
    std::string stream = PseudoRandomBytes(6 << 20, 11) + std::string(48 << 20, '\0') +
                         PseudoRandomBytes(3 << 20, 12);
    WriteFileBytes(*dir_ / "stream.bin", stream);
    CreateArchive(*dir_ / "ds", "ct/200/2026-01-02T00:00:00Z", "root.pxar.didx",
                  *dir_ / "stream.bin");
    CreateKeyFile(*dir_ / "key.json");
    CreateArchive(*dir_ / "encds", "vm/300/2026-01-03T00:00:00Z", "drive-scsi0.img.fidx",
                  *dir_ / "disk.img", *dir_ / "key.json");
    WriteFileBytes(*dir_ / "config.json",
                   absl::StrCat(R"({"nbd": {"listen": "127.0.0.1:0", "exports": [")", kFixedExport,
                                R"("]}})"));
    server_ = ChunkcachedProcess::Start({"--config", (*dir_ / "config.json").string(),
                                         "--datastore", "store=" + (*dir_ / "ds").string(),
                                         "--datastore", "enc=" + (*dir_ / "encds").string(),
                                         "--keyfile", "enc=" + (*dir_ / "key.json").string()})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete image_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(server_->nbd_port(), 0);
  }

  static ProcessResult Python(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/python3", InteropScript().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--port", std::to_string(server_->nbd_port())});
    return RunProcess(argv);
  }

  static ScratchDir* dir_;
  static std::string* image_;
  static ChunkcachedProcess* server_;
};

ScratchDir* NbdInteropTest::dir_ = nullptr;
std::string* NbdInteropTest::image_ = nullptr;
ChunkcachedProcess* NbdInteropTest::server_ = nullptr;

TEST_F(NbdInteropTest, LibnbdHandshakeReadsBlockStatusAndCache) {
  const ProcessResult result =
      Python({"handshake", "--export", kFixedExport, "--image", (*dir_ / "disk.img").string()});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text << server_->Log();
}

TEST_F(NbdInteropTest, LibnbdSimpleReplies) {
  const ProcessResult result =
      Python({"simple", "--export", kFixedExport, "--image", (*dir_ / "disk.img").string()});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
}

TEST_F(NbdInteropTest, LibnbdRefusals) {
  const ProcessResult result = Python({"refusals", "--export", kFixedExport});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_GE(
      server_->Metric("chunkcache_nbd_requests_total", {{"command", "write"}, {"result", "eperm"}})
          .value_or(0),
      1);
  EXPECT_GE(
      server_->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "einval"}})
          .value_or(0),
      1);
}

TEST_F(NbdInteropTest, LibnbdOptionNegotiation) {
  const ProcessResult result =
      Python({"options", "--export", kFixedExport, "--listed", kFixedExport});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
}

TEST_F(NbdInteropTest, HostileClientsLeaveTheServerUp) {
  const ProcessResult result = Python({"hostile", "--export", kFixedExport});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_EQ(kill(server_->pid(), 0), 0);
}

TEST_F(NbdInteropTest, NbdinfoListsAndMapsZeroChunksAsHoles) {
  const int port = server_->nbd_port();
  ProcessResult list =
      RunProcess({"/usr/bin/nbdinfo", "--list", absl::StrCat("nbd://127.0.0.1:", port)});
  ASSERT_EQ(list.exit_code, 0) << list.stderr_text;
  EXPECT_TRUE(absl::StrContains(list.stdout_text, kFixedExport)) << list.stdout_text;
  ProcessResult map = RunProcess({"/usr/bin/nbdinfo", "--map", Uri(port, kFixedExport)});
  ASSERT_EQ(map.exit_code, 0) << map.stderr_text;
  // "   4194304     4194304    3  hole,zero": chunks 1 and 3.
  EXPECT_TRUE(
      absl::StrContains(map.stdout_text, absl::StrCat(kChunk, "     ", kChunk, "    3  hole,zero")))
      << map.stdout_text;
  EXPECT_TRUE(absl::StrContains(map.stdout_text,
                                absl::StrCat(3 * kChunk, "     ", kChunk, "    3  hole,zero")))
      << map.stdout_text;
}

TEST_F(NbdInteropTest, QemuImgMatchesTheSourceAndNbdkitsFilePlugin) {
  const int port = server_->nbd_port();
  const std::string uri = Uri(port, kFixedExport);
  ProcessResult info = RunProcess({"/usr/bin/qemu-img", "info", "--output=json", uri});
  ASSERT_EQ(info.exit_code, 0) << info.stderr_text;
  EXPECT_TRUE(
      absl::StrContains(info.stdout_text, absl::StrCat("\"virtual-size\": ", image_->size())))
      << info.stdout_text;
  ProcessResult compare = RunProcess({"/usr/bin/qemu-img", "compare", "-f", "raw", "-F", "raw",
                                      (*dir_ / "disk.img").string(), uri});
  EXPECT_EQ(compare.exit_code, 0) << compare.stdout_text << compare.stderr_text;

  // The same image served by nbdkit's file plugin: same bytes, same allocation map.
  const int nbdkit_port = FreeTcpPort();
  std::unique_ptr<BackgroundProcess> nbdkit = BackgroundProcess::Start(
      {"/usr/bin/nbdkit", "--foreground", "--readonly", "--ipaddr=127.0.0.1",
       absl::StrCat("--port=", nbdkit_port), "file", (*dir_ / "disk.img").string()});
  ASSERT_NE(nbdkit, nullptr);
  ASSERT_TRUE(WaitForPort(nbdkit_port)) << nbdkit->Stderr();
  const std::string reference = absl::StrCat("nbd://127.0.0.1:", nbdkit_port);
  ProcessResult ours = RunProcess({"/usr/bin/qemu-img", "map", "--output=json", uri});
  ProcessResult theirs = RunProcess({"/usr/bin/qemu-img", "map", "--output=json", reference});
  ASSERT_EQ(ours.exit_code, 0) << ours.stderr_text;
  ASSERT_EQ(theirs.exit_code, 0) << theirs.stderr_text;
  EXPECT_EQ(ours.stdout_text, theirs.stdout_text);
  EXPECT_TRUE(absl::StrContains(ours.stdout_text, "\"zero\": true, \"data\": false"))
      << ours.stdout_text;
  ProcessResult same = RunProcess({"/usr/bin/qemu-img", "compare", uri, reference});
  EXPECT_EQ(same.exit_code, 0) << same.stdout_text << same.stderr_text;
  // The encrypted archive of the same image: its zero chunks have keyed digests, and are
  // still holes, exactly where the reference has them.
  const std::string encrypted = Uri(port, kEncryptedExport);
  ProcessResult encrypted_map =
      RunProcess({"/usr/bin/qemu-img", "map", "--output=json", encrypted});
  ASSERT_EQ(encrypted_map.exit_code, 0) << encrypted_map.stderr_text;
  EXPECT_EQ(encrypted_map.stdout_text, theirs.stdout_text);
  ProcessResult encrypted_same = RunProcess({"/usr/bin/qemu-img", "compare", encrypted, reference});
  EXPECT_EQ(encrypted_same.exit_code, 0)
      << encrypted_same.stdout_text << encrypted_same.stderr_text;
  nbdkit->Stop(SIGTERM);

  // The dynamic archive against nbdkit serving its source stream: the same bytes. (Its zero
  // chunks start and end where the chunker cut, not on file system blocks, so a sparse file's
  // map cannot match it; ConvertAndNbdcopyAreByteExactAndSparse checks they become holes.)
  const int stream_port = FreeTcpPort();
  std::unique_ptr<BackgroundProcess> stream_server = BackgroundProcess::Start(
      {"/usr/bin/nbdkit", "--foreground", "--readonly", "--ipaddr=127.0.0.1",
       absl::StrCat("--port=", stream_port), "file", (*dir_ / "stream.bin").string()});
  ASSERT_NE(stream_server, nullptr);
  ASSERT_TRUE(WaitForPort(stream_port)) << stream_server->Stderr();
  ProcessResult dynamic_same =
      RunProcess({"/usr/bin/qemu-img", "compare", Uri(port, kDynamicExport),
                  absl::StrCat("nbd://127.0.0.1:", stream_port)});
  EXPECT_EQ(dynamic_same.exit_code, 0) << dynamic_same.stdout_text << dynamic_same.stderr_text;
  stream_server->Stop(SIGTERM);
}

// qemu-img convert and nbdcopy restore each kind of archive byte for byte, zero chunks as
// holes in the output.
TEST_F(NbdInteropTest, ConvertAndNbdcopyAreByteExactAndSparse) {
  const int port = server_->nbd_port();
  struct Case {
    std::string export_name;
    std::filesystem::path source;
  };
  const std::vector<Case> cases = {{kFixedExport, *dir_ / "disk.img"},
                                   {kDynamicExport, *dir_ / "stream.bin"},
                                   {kEncryptedExport, *dir_ / "disk.img"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.export_name);
    const std::string expected = ReadFileBytes(c.source);
    const std::filesystem::path converted = *dir_ / "converted.raw";
    ProcessResult convert = RunProcess({"/usr/bin/qemu-img", "convert", "-O", "raw",
                                        Uri(port, c.export_name), converted.string()});
    ASSERT_EQ(convert.exit_code, 0) << convert.stderr_text;
    EXPECT_TRUE(ReadFileBytes(converted) == expected);
    EXPECT_LT(AllocatedBytes(converted), expected.size() - kChunk);

    const std::filesystem::path copied = *dir_ / "copied.raw";
    ProcessResult copy = RunProcess({"/usr/bin/nbdcopy", "--connections=4", "--requests=16",
                                     Uri(port, c.export_name), copied.string()});
    ASSERT_EQ(copy.exit_code, 0) << copy.stderr_text;
    EXPECT_TRUE(ReadFileBytes(copied) == expected);
    EXPECT_LT(AllocatedBytes(copied), expected.size() - kChunk);
    std::filesystem::remove(converted);
    std::filesystem::remove(copied);
  }
  EXPECT_GT(
      server_->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "ok"}})
          .value_or(0),
      0);
  EXPECT_GE(server_->Metric("chunkcache_read_bytes_total").value_or(0), image_->size());
  EXPECT_TRUE(server_->Metric("chunkcache_nbd_connections").has_value());
}

// A chunk corrupted in the datastore: reads of it fail with EIO, every other read succeeds.
TEST(NbdCorruptionTest, CorruptChunkIsEioAndTheConnectionStaysUsable) {
  ScratchDir dir;
  const std::string image = ImageBytes();
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, "drive-scsi0.img.fidx", dir / "disk.img");
  const std::string digest = Sha256Hex(std::string_view(image).substr(2 * kChunk, kChunk));
  const std::filesystem::path chunk = dir / "ds" / ".chunks" / digest.substr(0, 4) / digest;
  std::string blob = ReadFileBytes(chunk);
  ASSERT_FALSE(blob.empty());
  blob[blob.size() / 2] ^= 0x55;
  WriteFileBytes(chunk, blob);
  std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
      {"--nbd-listen", "127.0.0.1:0", "--datastore", "store=" + (dir / "ds").string()});
  ASSERT_NE(server, nullptr);
  const ProcessResult result =
      RunProcess({"/usr/bin/python3", InteropScript().string(), "corrupt", "--port",
                  std::to_string(server->nbd_port()), "--export", kFixedExport, "--bad-offset",
                  std::to_string(2 * kChunk + 100), "--good-offset", "100"});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text << server->Log();
  EXPECT_GE(
      server->Metric("chunkcache_nbd_requests_total", {{"command", "read"}, {"result", "eio"}})
          .value_or(0),
      2);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(NbdConfigTest, RemoteAddressNeedsAllowUnauthenticatedRemote) {
  ScratchDir dir;
  const ProcessResult refused =
      RunProcess({ChunkcachedBinary().string(), "--nbd-listen", "0.0.0.0:0", "--datastore",
                  "store=" + (dir / "ds").string(), "--check-config"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(refused.stderr_text, "nbd.listen")) << refused.stderr_text;
}

TEST(NbdShutdownTest, SigtermClosesNbdClientsAndExitsCleanly) {
  ScratchDir dir;
  WriteFileBytes(dir / "disk.img", ImageBytes());
  CreateArchive(dir / "ds", kSnapshot, "drive-scsi0.img.fidx", dir / "disk.img");
  const std::filesystem::path socket = dir / "nbd.sock";
  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--nbd-listen", "unix:" + socket.string(), "--datastore",
                                 "store=" + (dir / "ds").string(), "--shutdown-grace", "2"});
  ASSERT_NE(server, nullptr);
  struct stat info {};
  ASSERT_EQ(stat(socket.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660);
  // A client on the unix socket that stays connected: shutdown must still finish.
  std::unique_ptr<BackgroundProcess> client = BackgroundProcess::Start(
      {"/usr/bin/python3", "-m", "nbd", "-u",  // nbdsh, with the python3 that has libnbd
       absl::StrCat("nbd+unix:///", kFixedExport, "?socket=", socket.string()), "-c",
       "import time\nassert len(h.pread(4096, 0)) == 4096\nprint('connected', flush=True)\n"
       "time.sleep(120)"});
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 600 && server->Metric("chunkcache_nbd_requests_total",
                                            {{"command", "read"}, {"result", "ok"}})
                                     .value_or(0) < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(server->Metric("chunkcache_nbd_connections").value_or(0), 1);
  EXPECT_EQ(server->Stop(SIGTERM, std::chrono::seconds(30)), 0) << server->Log();
  EXPECT_FALSE(std::filesystem::exists(socket));
}

// The restore tools read sequentially, so each of their connections is a sequential reader of
// the archive's session: readahead fetches the chunks ahead of them, which they then read
// (prefetch "used"), and every chunk is fetched from the datastore once. A fresh server per
// tool, so the counts are that tool's.
TEST(NbdReadaheadTest, ConvertAndNbdcopyGetReadahead) {
  constexpr uint64_t kChunks = 16;
  ScratchDir dir;
  const std::string image = RepeatedPatternImage(kChunks, kChunk, 500);
  WriteFileBytes(dir / "disk.img", image);
  CreateArchive(dir / "ds", kSnapshot, "drive-scsi0.img.fidx", dir / "disk.img");
  const std::vector<std::vector<std::string>> tools = {
      {"/usr/bin/qemu-img", "convert", "-O", "raw"},
      {"/usr/bin/nbdcopy", "--connections=4", "--requests=16"}};
  for (const std::vector<std::string>& tool : tools) {
    SCOPED_TRACE(tool[0]);
    std::unique_ptr<ChunkcachedProcess> server = ChunkcachedProcess::Start(
        {"--nbd-listen", "127.0.0.1:0", "--datastore", "store=" + (dir / "ds").string()});
    ASSERT_NE(server, nullptr);
    std::vector<std::string> argv = tool;
    argv.push_back(Uri(server->nbd_port(), kFixedExport));
    argv.push_back((dir / "out.raw").string());
    const ProcessResult copy = RunProcess(argv);
    ASSERT_EQ(copy.exit_code, 0) << copy.stderr_text;
    EXPECT_TRUE(ReadFileBytes(dir / "out.raw") == image);
    EXPECT_GT(server->Metric("chunkcache_prefetch_chunks_total", {{"result", "used"}}).value_or(0),
              0)
        << server->Metrics();
    EXPECT_EQ(server->Metric("chunkcache_upstream_fetches_total", {{"result", "ok"}}).value_or(0),
              kChunks)
        << server->Metrics();
    std::filesystem::remove(dir / "out.raw");
    EXPECT_EQ(server->Stop(SIGTERM), 0);
  }
}

}  // namespace
}  // namespace chunkcache::testing
