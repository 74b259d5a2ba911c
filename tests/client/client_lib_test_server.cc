#include "tests/client/client_lib_test_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <thread>

namespace chunkcache::testing {
namespace {

// Sleeps for `delay`, waking early when the call is cancelled, so that a test that gives up on
// a slow call does not wait for the server to finish sleeping at shutdown.
void SleepUnlessCancelled(grpc::ServerContext* context, std::chrono::milliseconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until && !context->IsCancelled()) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(5), until - std::chrono::steady_clock::now()));
  }
}

}  // namespace

class InMemoryChunkCacheTestServer::Service final : public v1::ChunkCache::Service {
 public:
  explicit Service(TestServerOptions options)
      : options_(std::move(options)),
        unavailable_reads_left_(options_.fail_reads_unavailable),
        stream_failure_armed_(options_.fail_stream_after_messages >= 0) {}

  grpc::Status ReadRange(grpc::ServerContext* context, const v1::ReadRangeRequest* request,
                         v1::ReadRangeResponse* response) override {
    ++read_calls_;
    const int now_in_progress = ++reads_in_progress_;
    int seen = max_concurrent_reads_.load();
    while (now_in_progress > seen &&
           !max_concurrent_reads_.compare_exchange_weak(seen, now_in_progress)) {
    }
    grpc::Status status = AnswerRead(context, *request, response);
    --reads_in_progress_;
    return status;
  }

  grpc::Status StreamRange(grpc::ServerContext* context, const v1::ReadRangeRequest* request,
                           grpc::ServerWriter<v1::ReadRangeResponse>* writer) override {
    const int call = ++stream_calls_;
    if (grpc::Status checked = CheckCall(context, request->snapshot()); !checked.ok()) {
      return checked;
    }
    const uint64_t size = options_.archive_bytes.size();
    if (request->offset() >= size) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "offset at or past the end");
    }
    if (request->length() == 0) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "length 0");
    const uint64_t end = std::min(size, request->offset() + request->length());
    int messages = 0;
    for (uint64_t offset = request->offset(); offset < end;) {
      if (call == 1 && stream_failure_armed_ && messages == options_.fail_stream_after_messages) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected stream failure");
      }
      SleepUnlessCancelled(context, options_.stream_delay);
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      const uint64_t piece = std::min(end - offset, options_.max_read_bytes);
      v1::ReadRangeResponse response;
      response.set_offset(offset);
      response.set_data(options_.archive_bytes.substr(offset, piece));
      response.set_eof(offset + piece == size);
      if (!writer->Write(response)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
      offset += piece;
      ++messages;
    }
    return grpc::Status::OK;
  }

  grpc::Status StatSnapshot(grpc::ServerContext* context, const v1::StatSnapshotRequest* request,
                            v1::SnapshotInfo* info) override {
    ++stat_calls_;
    if (grpc::Status checked = CheckCall(context, request->snapshot()); !checked.ok()) {
      return checked;
    }
    const uint64_t size = options_.archive_bytes.size() + options_.reported_size_extra;
    info->set_size(size);
    info->set_chunk_size(options_.chunk_size);
    info->set_chunk_count((size + options_.chunk_size - 1) / options_.chunk_size);
    info->set_distinct_chunks(info->chunk_count());
    info->set_crypt_mode("none");
    info->set_hinted_chunks(1);
    info->set_cached_bytes(0);
    info->set_index_csum(std::string(64, 'a'));
    return grpc::Status::OK;
  }

  int read_calls() const { return read_calls_; }
  int stream_calls() const { return stream_calls_; }
  int stat_calls() const { return stat_calls_; }
  int max_concurrent_reads() const { return max_concurrent_reads_; }

 private:
  grpc::Status CheckCall(grpc::ServerContext* context, const v1::SnapshotRef& ref) const {
    if (!options_.required_token.empty()) {
      const auto& metadata = context->client_metadata();
      auto it = metadata.find("authorization");
      if (it == metadata.end() || std::string(it->second.data(), it->second.size()) !=
                                      "Bearer " + options_.required_token) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
      }
    }
    if (ref.datastore() != options_.datastore || ref.archive() != options_.archive) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          "archive " + ref.archive() + " in datastore " + ref.datastore() + " not found");
    }
    return grpc::Status::OK;
  }

  grpc::Status AnswerRead(grpc::ServerContext* context, const v1::ReadRangeRequest& request,
                          v1::ReadRangeResponse* response) {
    SleepUnlessCancelled(context, options_.read_delay);
    if (unavailable_reads_left_.fetch_sub(1) > 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected failure");
    }
    if (grpc::Status checked = CheckCall(context, request.snapshot()); !checked.ok()) {
      return checked;
    }
    if (request.length() == 0 || request.length() > options_.max_read_bytes) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "length must be in 1.." + std::to_string(options_.max_read_bytes));
    }
    const uint64_t size = options_.archive_bytes.size();
    if (request.offset() >= size) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          "offset " + std::to_string(request.offset()) + " is at or past the end " +
                              std::to_string(size));
    }
    uint64_t piece = std::min(request.length(), size - request.offset());
    if (options_.short_answer_bytes > 0) piece = std::min(piece, options_.short_answer_bytes);
    response->set_offset(request.offset());
    response->set_data(options_.archive_bytes.substr(request.offset(), piece));
    response->set_eof(request.offset() + piece == size);
    return grpc::Status::OK;
  }

  const TestServerOptions options_;
  std::atomic<int> unavailable_reads_left_;
  const bool stream_failure_armed_;
  std::atomic<int> read_calls_{0};
  std::atomic<int> stream_calls_{0};
  std::atomic<int> stat_calls_{0};
  std::atomic<int> reads_in_progress_{0};
  std::atomic<int> max_concurrent_reads_{0};
};

std::unique_ptr<InMemoryChunkCacheTestServer> InMemoryChunkCacheTestServer::Start(
    TestServerOptions options) {
  auto server = std::unique_ptr<InMemoryChunkCacheTestServer>(new InMemoryChunkCacheTestServer);
  std::shared_ptr<grpc::ServerCredentials> credentials =
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials();
  server->service_ = std::make_unique<Service>(std::move(options));
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxSendMessageSize(64 << 20);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) return nullptr;
  return server;
}

InMemoryChunkCacheTestServer::~InMemoryChunkCacheTestServer() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
}

std::shared_ptr<grpc::Channel> InMemoryChunkCacheTestServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

int InMemoryChunkCacheTestServer::read_calls() const { return service_->read_calls(); }
int InMemoryChunkCacheTestServer::stream_calls() const { return service_->stream_calls(); }
int InMemoryChunkCacheTestServer::stat_calls() const { return service_->stat_calls(); }
int InMemoryChunkCacheTestServer::max_concurrent_reads() const {
  return service_->max_concurrent_reads();
}

}  // namespace chunkcache::testing
