// noop_server: the baseline for chunkcached's hit-path benchmarks. It serves the same
// chunkcache.v1.ChunkCache API on the same gRPC callback machinery, but ReadRange answers every
// request from one static buffer without looking anything up, so `chunkcache bench` against it
// measures what gRPC itself costs for the same RPC shape. Its archive is `--size` bytes of
// zeros under any name.
//
//   noop_server --listen 127.0.0.1:0 --port-file ports --size 1GiB
//
// Runs until SIGINT/SIGTERM.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "chunkcache/v1/chunkcache.grpc.pb.h"

namespace {

std::atomic<bool> g_stop{false};

class NoopChunkCache final : public chunkcache::v1::ChunkCache::CallbackService {
 public:
  NoopChunkCache(uint64_t archive_size, uint64_t max_read_bytes)
      : archive_size_(archive_size), payload_(max_read_bytes, '\0') {}

  grpc::ServerUnaryReactor* ReadRange(grpc::CallbackServerContext* context,
                                      const chunkcache::v1::ReadRangeRequest* request,
                                      chunkcache::v1::ReadRangeResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->length() == 0 || request->length() > payload_.size()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad length"));
      return reactor;
    }
    if (request->offset() >= archive_size_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "offset past the end"));
      return reactor;
    }
    const uint64_t length = std::min(request->length(), archive_size_ - request->offset());
    response->set_offset(request->offset());
    response->set_data(payload_.data(), length);
    response->set_eof(request->offset() + length == archive_size_);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* StatSnapshot(grpc::CallbackServerContext* context,
                                         const chunkcache::v1::StatSnapshotRequest*,
                                         chunkcache::v1::SnapshotInfo* info) override {
    info->set_size(archive_size_);
    info->set_chunk_size(4 << 20);
    info->set_chunk_count((archive_size_ + (4 << 20) - 1) / (4 << 20));
    info->set_crypt_mode("none");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const uint64_t archive_size_;
  const std::string payload_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"noop_server: ChunkCache API answering from a static buffer (benchmark baseline)"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  uint64_t size = uint64_t{1} << 30;
  uint64_t max_read_bytes = uint64_t{4} << 20;
  app.add_option("--listen", listen, "HOST:PORT (port 0: any free port)");
  app.add_option("--port-file", port_file, "write grpc_port=N here once listening");
  app.add_option("--size", size, "archive size in bytes");
  app.add_option("--max-read-bytes", max_read_bytes, "largest ReadRange length");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  NoopChunkCache service(size, max_read_bytes);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxSendMessageSize(static_cast<int>(max_read_bytes + 4096));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "noop_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "noop_server: listening on port %d\n", port);
  if (!port_file.empty()) std::ofstream(port_file) << "grpc_port=" << port << "\n";

  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
