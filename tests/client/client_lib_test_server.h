// InMemoryChunkCacheTestServer: a ChunkCache gRPC server for the client library tests only,
// not the chunkcached service. It serves one archive held in memory on a loopback port with
// the API's semantics (ReadRange bounds and eof, OUT_OF_RANGE, INVALID_ARGUMENT for a length
// of 0 or over max_read_bytes, StreamRange in max_read_bytes messages, NOT_FOUND for another
// datastore or archive) and test hooks: a required bearer token, injected UNAVAILABLE
// failures, delays, short answers, and counters of calls and of ReadRange calls in progress.
//
//   TestServerOptions options;
//   options.archive_bytes = PseudoRandomBytes(1 << 20, 7);
//   auto server = InMemoryChunkCacheTestServer::Start(options);
//   ClientOptions client_options;
//   client_options.server_address = server->address();   // "127.0.0.1:<port>"
#ifndef CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_SERVER_H_
#define CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_SERVER_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "chunkcache/v1/chunkcache.grpc.pb.h"

namespace chunkcache::testing {

struct TestServerOptions {
  std::string datastore = "store";
  std::string archive = "disk.img.fidx";
  std::string archive_bytes;
  uint64_t chunk_size = 4096;  // reported by StatSnapshot only
  uint64_t max_read_bytes = uint64_t{4} << 20;
  std::string required_token;                 // "" accepts calls without authorization
  std::chrono::milliseconds read_delay{0};    // before answering each ReadRange
  std::chrono::milliseconds stream_delay{0};  // before each StreamRange message
  int fail_reads_unavailable = 0;             // the first N ReadRange calls fail: UNAVAILABLE
  int fail_stream_after_messages = -1;        // the first StreamRange call fails after N messages
  uint64_t short_answer_bytes = 0;            // > 0: ReadRange answers at most this many bytes
  uint64_t reported_size_extra = 0;           // StatSnapshot claims this many more bytes
  std::shared_ptr<grpc::ServerCredentials> credentials;  // TLS; null: plain
};

class InMemoryChunkCacheTestServer {
 public:
  // Listens on 127.0.0.1 on a free port; nullptr when the server cannot start.
  static std::unique_ptr<InMemoryChunkCacheTestServer> Start(TestServerOptions options);
  ~InMemoryChunkCacheTestServer();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // A channel to the same service without a socket.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  int port() const { return port_; }

  int read_calls() const;
  int stream_calls() const;
  int stat_calls() const;
  int max_concurrent_reads() const;  // most ReadRange calls in progress at one time

  class Service;

 private:
  InMemoryChunkCacheTestServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_SERVER_H_
