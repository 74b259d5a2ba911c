#include "tests/service/service_test_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/digest.h"
#include "format/snapshot_name.h"

extern char** environ;

namespace chunkcache::testing {
namespace {

// Spawns argv with stdin/stdout/stderr from/to the given files; -1 on failure.
pid_t Spawn(const std::vector<std::string>& argv, const std::filesystem::path& stdin_path,
            const std::filesystem::path& stdout_path, const std::filesystem::path& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  // The test may block signals in its threads (gRPC does not, but be safe): the child starts
  // with none blocked and default dispositions.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": " << std::strerror(error);
    return -1;
  }
  return pid;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Waits for `pid` up to `timeout`; nullopt when still running.
std::optional<int> WaitPid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return ExitCodeOf(status);
    if (done < 0) return -1;
    if (std::chrono::steady_clock::now() >= give_up) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return "";
  return ReadFileBytes(path);
}

}  // namespace

std::filesystem::path ChunkcachedBinary() { return BinDir() / "chunkcached"; }
std::filesystem::path ChunkcacheBinary() { return BinDir() / "chunkcache"; }
std::filesystem::path SourceDir() { return CHUNKCACHE_SOURCE_DIR; }

ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  ScratchDir io;
  WriteFileBytes(io / "stdin", options.stdin_text);
  ProcessResult result;
  const pid_t pid = Spawn(argv, io / "stdin", io / "stdout", io / "stderr");
  if (pid < 0) return result;
  std::optional<int> code = WaitPid(pid, options.timeout);
  if (!code.has_value()) {
    kill(pid, SIGKILL);
    code = WaitPid(pid, std::chrono::seconds(10));
    ADD_FAILURE() << argv[0] << " did not finish within " << options.timeout.count() << " s";
  }
  result.exit_code = code.value_or(-1);
  result.stdout_text = ReadWholeFile(io / "stdout");
  result.stderr_text = ReadWholeFile(io / "stderr");
  return result;
}

std::unique_ptr<BackgroundProcess> BackgroundProcess::Start(const std::vector<std::string>& argv) {
  std::unique_ptr<BackgroundProcess> process(new BackgroundProcess());
  WriteFileBytes(process->scratch_ / "stdin", "");
  process->pid_ = Spawn(argv, process->scratch_ / "stdin", process->scratch_ / "stdout",
                        process->scratch_ / "stderr");
  if (process->pid_ < 0) return nullptr;
  return process;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    WaitPid(pid_, std::chrono::seconds(10));
  }
}

int BackgroundProcess::Stop(int signal, std::chrono::seconds timeout) {
  if (exit_code_.has_value()) return *exit_code_;
  kill(pid_, signal);
  exit_code_ = WaitPid(pid_, timeout);
  if (exit_code_.has_value()) return *exit_code_;
  kill(pid_, SIGKILL);
  exit_code_ = WaitPid(pid_, std::chrono::seconds(10));
  return -1;
}

std::string BackgroundProcess::Stderr() const { return ReadWholeFile(scratch_ / "stderr"); }

std::unique_ptr<ChunkcachedProcess> ChunkcachedProcess::Start(
    const std::vector<std::string>& args) {
  std::unique_ptr<ChunkcachedProcess> process(new ChunkcachedProcess());
  const std::filesystem::path port_file = process->scratch_ / "ports";
  std::vector<std::string> argv = {ChunkcachedBinary().string()};
  auto has = [&](std::string_view flag) {
    return std::find(args.begin(), args.end(), flag) != args.end();
  };
  if (!has("--listen")) argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  if (!has("--metrics-listen")) argv.insert(argv.end(), {"--metrics-listen", "127.0.0.1:0"});
  if (!has("--cache-dir"))
    argv.insert(argv.end(), {"--cache-dir", (process->scratch_ / "cache").string()});
  if (!has("--cache-bytes")) argv.insert(argv.end(), {"--cache-bytes", "256MiB"});
  argv.insert(argv.end(), {"--port-file", port_file.string()});
  argv.insert(argv.end(), args.begin(), args.end());
  WriteFileBytes(process->scratch_ / "stdin", "");
  process->pid_ = Spawn(argv, process->scratch_ / "stdin", process->scratch_ / "stdout",
                        process->scratch_ / "log");
  if (process->pid_ < 0) return nullptr;

  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    if (std::optional<int> code = WaitPid(process->pid_, std::chrono::milliseconds(0))) {
      process->exit_code_ = code;
      ADD_FAILURE() << "chunkcached exited with " << *code << " before listening:\n"
                    << process->Log();
      return nullptr;
    }
    std::error_code error;
    if (std::filesystem::exists(port_file, error)) {
      for (absl::string_view line : absl::StrSplit(ReadFileBytes(port_file), '\n')) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, '=');
        if (kv.first == "grpc_port") (void)absl::SimpleAtoi(kv.second, &process->grpc_port_);
        if (kv.first == "metrics_port") (void)absl::SimpleAtoi(kv.second, &process->metrics_port_);
        if (kv.first == "nbd_port") (void)absl::SimpleAtoi(kv.second, &process->nbd_port_);
      }
      return process;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "chunkcached did not start listening within 60 s:\n" << process->Log();
  return nullptr;
}

ChunkcachedProcess::~ChunkcachedProcess() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    WaitPid(pid_, std::chrono::seconds(10));
  }
}

std::string ChunkcachedProcess::Metrics() const {
  int status = 0;
  std::string body = HttpGet(metrics_port_, "/metrics", &status);
  EXPECT_EQ(status, 200) << body;
  return body;
}

std::optional<double> ChunkcachedProcess::Metric(std::string_view name,
                                                 const Labels& labels) const {
  return FindMetric(Metrics(), name, labels);
}

void ChunkcachedProcess::SendSignal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> ChunkcachedProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (exit_code_.has_value()) return exit_code_;
  exit_code_ = WaitPid(pid_, timeout);
  return exit_code_;
}

int ChunkcachedProcess::Stop(int signal, std::chrono::seconds timeout) {
  SendSignal(signal);
  if (std::optional<int> code = WaitForExit(timeout)) return *code;
  kill(pid_, SIGKILL);
  exit_code_ = WaitPid(pid_, std::chrono::seconds(10));
  return -1;
}

std::string ChunkcachedProcess::Log() const { return ReadWholeFile(scratch_ / "log"); }

namespace {

// Sends `request` (a whole HTTP/1.0 request) to 127.0.0.1:port and returns the response body,
// with the status code in *status; "" and status 0 when the exchange failed.
std::string HttpExchange(int port, const std::string& request, int* status) {
  if (status != nullptr) *status = 0;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) return "";
  if (status != nullptr) {
    std::vector<std::string> first_line =
        absl::StrSplit(response.substr(0, response.find("\r\n")), ' ');
    if (first_line.size() >= 2) (void)absl::SimpleAtoi(first_line[1], status);
  }
  return response.substr(header_end + 4);
}

}  // namespace

std::string HttpGet(int port, const std::string& path_and_query, int* status) {
  return HttpExchange(
      port, absl::StrCat("GET ", path_and_query, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"), status);
}

std::string HttpPostJson(int port, const std::string& path, const std::string& body, int* status) {
  return HttpExchange(port,
                      absl::StrCat("POST ", path,
                                   " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: "
                                   "application/json\r\nContent-Length: ",
                                   body.size(), "\r\n\r\n", body),
                      status);
}

std::optional<double> FindMetric(const std::string& exposition, std::string_view name,
                                 const Labels& labels) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == absl::string_view::npos) continue;
    if (line.substr(0, name_end) != absl::string_view(name.data(), name.size())) continue;
    Labels found;
    absl::string_view rest = line.substr(name_end);
    if (!rest.empty() && rest.front() == '{') {
      const size_t close = rest.find('}');
      if (close == absl::string_view::npos) continue;
      for (absl::string_view pair : absl::StrSplit(rest.substr(1, close - 1), ',')) {
        const size_t equals = pair.find('=');
        if (equals == absl::string_view::npos) continue;
        absl::string_view value = pair.substr(equals + 1);
        if (value.size() >= 2) value = value.substr(1, value.size() - 2);  // quotes
        found[std::string(pair.substr(0, equals))] = std::string(value);
      }
      rest = rest.substr(close + 1);
    }
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = found.find(key);
      if (it == found.end() || it->second != value) match = false;
    }
    if (!match) continue;
    double value = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(rest), &value)) return value;
  }
  return std::nullopt;
}

int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

void CreateArchive(const std::filesystem::path& datastore, const std::string& snapshot,
                   const std::string& archive, const std::filesystem::path& input,
                   const std::filesystem::path& keyfile) {
  std::vector<std::string> argv = {ChunkcacheBinary().string(),
                                   "datastore",
                                   "create",
                                   "--path",
                                   datastore.string(),
                                   "--snapshot",
                                   snapshot,
                                   "--archive",
                                   archive,
                                   absl::EndsWith(archive, ".didx") ? "--stream" : "--image",
                                   input.string()};
  if (!keyfile.empty()) argv.insert(argv.end(), {"--keyfile", keyfile.string()});
  const ProcessResult result = RunProcess(argv);
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
}

void CreateKeyFile(const std::filesystem::path& path) {
  const ProcessResult result =
      RunProcess({ChunkcacheBinary().string(), "key", "create", "--out", path.string()});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
}

v1::SnapshotRef Ref(const std::string& datastore, const std::string& snapshot,
                    const std::string& archive) {
  v1::SnapshotRef ref;
  ref.set_datastore(datastore);
  ref.set_archive(archive);
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(snapshot);
  EXPECT_TRUE(name.ok()) << name.status();
  if (!name.ok()) return ref;
  ref.set_namespace_(name->NamespaceName());
  ref.set_backup_type(name->backup_type);
  ref.set_backup_id(name->backup_id);
  ref.set_backup_time(name->backup_time);
  return ref;
}

std::unique_ptr<ChunkCacheClient> ConnectClient(const std::string& address, ClientOptions options) {
  options.server_address = address;
  options.retry = RetryPolicy::NoRetries();
  absl::StatusOr<std::unique_ptr<ChunkCacheClient>> client = ChunkCacheClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

namespace {

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult result = RunProcess(argv);
  ASSERT_EQ(result.exit_code, 0) << absl::StrJoin(argv, " ") << "\n" << result.stderr_text;
}

}  // namespace

void MakeTestCa(const std::filesystem::path& dir, const std::string& name) {
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", (dir / (name + ".key")).string(), "-out", (dir / (name + ".pem")).string(),
           "-days", "2", "-subj", "/CN=" + name});
}

void MakeTestCert(const std::filesystem::path& dir, const std::string& ca, const std::string& name,
                  const std::string& subject, const std::string& extensions) {
  const std::string key = (dir / (name + ".key")).string();
  const std::string csr = (dir / (name + ".csr")).string();
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           key, "-out", csr, "-subj", subject});
  WriteFileBytes(dir / (name + ".ext"), extensions + "\n");
  Openssl({"x509", "-req", "-in", csr, "-CA", (dir / (ca + ".pem")).string(), "-CAkey",
           (dir / (ca + ".key")).string(), "-CAcreateserial", "-out",
           (dir / (name + ".pem")).string(), "-days", "2", "-extfile",
           (dir / (name + ".ext")).string()});
}

std::shared_ptr<grpc::Channel> OwnConnection(const std::string& address,
                                             grpc::ChannelArguments args) {
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  EXPECT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)))
      << address;
  return channel;
}

std::string Sha256Hex(std::string_view bytes) { return Sha256(bytes).Hex(); }

}  // namespace chunkcache::testing
