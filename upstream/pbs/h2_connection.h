// H2Connection: the HTTP/2 client side of one upgraded reader-protocol connection (spec §3.4,
// §4), with nghttp2 over a TlsStream. One I/O thread per connection runs the nghttp2 session
// (poll on the socket and a wake-up eventfd); any number of threads call Get, which queues a
// request and blocks until its answer. Requests beyond min(max_streams, the server's
// SETTINGS_MAX_CONCURRENT_STREAMS) wait in the queue; none is sent before the server's
// SETTINGS arrive, so the limit is never overrun.
//
// Settings as the PBS client uses: windows of 2^31-1 (per stream and for the connection) and
// 4 MiB frames. A GOAWAY (or a lost connection) makes the connection unusable: requests the
// server did not take are failed with UNAVAILABLE at once, so that callers open a new session.
//
//   absl::StatusOr<std::shared_ptr<H2Connection>> h2 =
//       H2Connection::Start(std::move(stream), upgrade->leftover, 64, &counters, "pbs:8007");
//   absl::StatusOr<H2Response> index = (*h2)->Get("/download?file-name=index.json.blob",
//                                                  absl::Now() + absl::Seconds(30));
#ifndef CHUNKCACHE_UPSTREAM_PBS_H2_CONNECTION_H_
#define CHUNKCACHE_UPSTREAM_PBS_H2_CONNECTION_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/pbs/pbs_counters.h"
#include "upstream/pbs/tls_stream.h"

typedef struct nghttp2_session nghttp2_session;

namespace chunkcache {

inline constexpr size_t kMaxH2BodyBytes = 256 << 20;  // an index of a 32 TiB disk

struct H2Response {
  int status = 0;
  std::string body;
};

class H2Connection {
 public:
  // Takes over `stream` after a 101; `leftover` are the bytes already read past it.
  // `counters` (may be null) must outlive the connection.
  static absl::StatusOr<std::shared_ptr<H2Connection>> Start(std::unique_ptr<TlsStream> stream,
                                                             std::string leftover, int max_streams,
                                                             PbsUpstreamCounters* counters);
  // Stops the I/O thread and closes the TCP connection (no GOAWAY, as the PBS client).
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // GET `path_and_query` and wait for the whole answer. UNAVAILABLE when the connection is
  // lost, the server sent GOAWAY before taking the request, or reset the stream;
  // DEADLINE_EXCEEDED (the stream is reset) after `deadline`.
  //
  // `body_capacity` (a guess; 0: none) is reserved for the body here, in the calling thread,
  // before the request is queued. A caller that frees the body in the same thread (a fetch
  // worker that decodes a chunk and drops it) then keeps reusing one allocation of its own
  // malloc arena; bodies allocated by the I/O thread, many at once and freed elsewhere, make
  // malloc return their pages to the kernel and fault fresh ones in for the next chunks. A
  // body longer than the guess is re-reserved from its content-length as before.
  absl::StatusOr<H2Response> Get(const std::string& path_and_query, absl::Time deadline,
                                 size_t body_capacity = 0);

  // False once the connection is lost or the server sent GOAWAY.
  bool Usable() const;
  const std::string& peer() const { return peer_; }

 private:
  struct Request {
    std::string path;
    int32_t stream_id = -1;
    bool done = false;       // guarded by the connection's mu_
    bool cancelled = false;  // guarded by the connection's mu_
    // Notified once `done` is set (under mu_): one per request, so that a completion wakes
    // only its caller, not every thread waiting on the connection.
    std::condition_variable completed;
    absl::Status status;  // written before `done`
    H2Response response;  // I/O thread only until `done`
    // Bytes of response.body received so far (I/O thread only). The body may be longer while
    // it is receiving: the rest is room that the payload of a DATA frame is read into.
    size_t body_filled = 0;
  };

  H2Connection(std::unique_ptr<TlsStream> stream, int max_streams, PbsUpstreamCounters* counters);
  void Run(std::string leftover);
  // The I/O loop's steps; false when the connection is over.
  bool SubmitQueued();
  bool ReadAvailable(bool* want_write);
  // Where the next bytes from the connection go: the room at the end of the body that the
  // DATA frame being received belongs to, or else `buffer`. Sets `*capacity`.
  char* ReadTarget(std::string& buffer, size_t* capacity);
  // After nghttp2 parsed what was read: completes the requests whose Complete was deferred.
  void FinishReadingInto();
  bool WritePending(bool* blocked);
  void Wake();
  void Complete(const std::shared_ptr<Request>& request, absl::Status status);
  void FailAll(const absl::Status& status);

  friend struct H2Callbacks;  // nghttp2's callbacks (h2_connection.cc)

  const std::unique_ptr<TlsStream> stream_;
  const std::string peer_;
  const int max_streams_;
  PbsUpstreamCounters* const counters_;
  int wake_fd_ = -1;

  mutable std::mutex mu_;
  std::deque<std::shared_ptr<Request>> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Request>> to_reset_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool unusable_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);

  // I/O thread only.
  nghttp2_session* session_ = nullptr;
  absl::flat_hash_map<int32_t, std::shared_ptr<Request>> streams_;
  std::string out_;
  // The DATA frame being received (unpadded, of a stream that is waiting for its answer): its
  // stream and the payload bytes nghttp2 has not delivered yet.
  int32_t data_stream_ = 0;
  size_t data_remaining_ = 0;
  // The request whose body room nghttp2 is parsing (null when it parses `buffer`): Complete
  // defers it to completed_while_reading_, so no caller takes the body while it is read from.
  Request* reading_into_ = nullptr;
  std::vector<std::pair<std::shared_ptr<Request>, absl::Status>> completed_while_reading_;
  bool settings_received_ = false;
  bool goaway_received_ = false;

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_H2_CONNECTION_H_
