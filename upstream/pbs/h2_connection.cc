#include "upstream/pbs/h2_connection.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr int32_t kWindowSize = NGHTTP2_MAX_WINDOW_SIZE;  // 2^31-1
constexpr uint32_t kMaxFrameSize = 4 << 20;               // as the PBS client (spec §3.4)
constexpr size_t kReadBufferSize = 256 << 10;
constexpr size_t kMaxPendingOutput = 1 << 20;
// The most a content-length reserves up front: above the largest chunk blob (16 MiB and a
// header), so a chunk is never re-allocated, and a server's claim alone never takes more.
constexpr uint64_t kMaxReservedBody = 17 << 20;

}  // namespace

// nghttp2's callbacks: the connection is the user_data. They run on the I/O thread only.
struct H2Callbacks {
  static H2Connection* Self(void* user_data) { return static_cast<H2Connection*>(user_data); }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Connection* self = Self(user_data);
    auto found = self->streams_.find(frame->hd.stream_id);
    if (found == self->streams_.end()) return 0;
    const std::string_view header(reinterpret_cast<const char*>(name), namelen);
    const std::string_view text(reinterpret_cast<const char*>(value), valuelen);
    if (header == ":status") {
      int status = 0;
      if (absl::SimpleAtoi(ToAbsl(text), &status)) found->second->response.status = status;
    } else if (header == "content-length") {
      // A chunk body arrives in many DATA pieces: sized once here, it is not re-allocated and
      // copied as it grows (nghttp2 resets a stream whose body does not match the length).
      uint64_t length = 0;
      if (absl::SimpleAtoi(ToAbsl(text), &length)) {
        found->second->response.body.reserve(std::min(length, kMaxReservedBody));
      }
    }
    return 0;
  }

  static int OnData(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                    size_t len, void* user_data) {
    H2Connection* self = Self(user_data);
    auto found = self->streams_.find(stream_id);
    if (found == self->streams_.end()) return 0;
    if (stream_id == self->data_stream_) {
      self->data_remaining_ -= std::min(self->data_remaining_, len);
    }
    H2Connection::Request& request = *found->second;
    if (request.body_filled + len > kMaxH2BodyBytes) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      return 0;
    }
    AppendToBody(request, reinterpret_cast<const char*>(data), len, self->counters_);
    return 0;
  }

  // Appends to the received part of the body. Bytes that ReadAvailable read straight into the
  // body's room are already where they belong: they are not copied again.
  static void AppendToBody(H2Connection::Request& request, const char* data, size_t len,
                           PbsUpstreamCounters* counters) {
    std::string& body = request.response.body;
    char* end = body.data() + request.body_filled;
    const size_t in_room = std::min(body.size() - request.body_filled, len);
    // memmove: with an unexpected frame layout the bytes may sit further on in the room.
    if (data != end && in_room > 0) {
      std::memmove(end, data, in_room);
    } else if (in_room > 0 && counters != nullptr) {
      counters->body_bytes_in_place.fetch_add(in_room, std::memory_order_relaxed);
    }
    if (len > in_room) body.append(data + in_room, len - in_room);
    request.body_filled += len;
  }

  static int OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    H2Connection* self = Self(user_data);
    self->data_remaining_ = 0;
    if (hd->type == NGHTTP2_DATA && (hd->flags & NGHTTP2_FLAG_PADDED) == 0 &&
        self->streams_.contains(hd->stream_id)) {
      self->data_stream_ = hd->stream_id;
      self->data_remaining_ = hd->length;
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    H2Connection* self = Self(user_data);
    auto found = self->streams_.find(stream_id);
    if (found == self->streams_.end()) return 0;
    std::shared_ptr<H2Connection::Request> request = std::move(found->second);
    self->streams_.erase(found);
    if (stream_id == self->data_stream_) self->data_remaining_ = 0;
    if (self->counters_ != nullptr) self->counters_->streams_in_flight.fetch_sub(1);
    absl::Status status;
    if (error_code != NGHTTP2_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat(self->peer_, " reset the HTTP/2 stream of ",
                                                   request->path, " (",
                                                   nghttp2_http2_strerror(error_code), ")"));
    } else if (request->response.status == 0) {
      status = absl::UnavailableError(
          absl::StrCat(self->peer_, " closed the stream of ", request->path, " without an answer"));
    } else if (request->body_filled >= kMaxH2BodyBytes) {
      status = absl::UnavailableError(absl::StrCat(self->peer_, " sent more than ", kMaxH2BodyBytes,
                                                   " bytes for ", request->path));
    }
    self->Complete(request, std::move(status));
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    H2Connection* self = Self(user_data);
    if (frame->hd.type == NGHTTP2_DATA) self->data_remaining_ = 0;
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      self->settings_received_ = true;
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
      self->goaway_received_ = true;
      std::deque<std::shared_ptr<H2Connection::Request>> queued;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->unusable_ = true;
        self->failure_ = absl::UnavailableError(absl::StrCat(self->peer_, " sent GOAWAY"));
        queued.swap(self->queued_);
      }
      // Not sent yet: they go to a new session. Sent ones above last_stream_id are closed by
      // nghttp2 with REFUSED_STREAM (OnStreamClose); the others still complete here.
      for (auto& request : queued) {
        self->Complete(request, absl::UnavailableError(
                                    absl::StrCat(self->peer_, " sent GOAWAY before the request")));
      }
    }
    return 0;
  }
};

H2Connection::H2Connection(std::unique_ptr<TlsStream> stream, int max_streams,
                           PbsUpstreamCounters* counters)
    : stream_(std::move(stream)),
      peer_(stream_->peer()),
      max_streams_(max_streams),
      counters_(counters) {}

absl::StatusOr<std::shared_ptr<H2Connection>> H2Connection::Start(std::unique_ptr<TlsStream> stream,
                                                                  std::string leftover,
                                                                  int max_streams,
                                                                  PbsUpstreamCounters* counters) {
  std::shared_ptr<H2Connection> connection(
      new H2Connection(std::move(stream), std::max(1, max_streams), counters));
  connection->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (connection->wake_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &H2Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &H2Callbacks::OnData);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &H2Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &H2Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, &H2Callbacks::OnBeginFrame);
  const int created =
      nghttp2_session_client_new(&connection->session_, callbacks, connection.get());
  nghttp2_session_callbacks_del(callbacks);
  if (created != 0) {
    return absl::InternalError(
        absl::StrCat("nghttp2_session_client_new: ", nghttp2_strerror(created)));
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindowSize)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrameSize},
  };
  nghttp2_submit_settings(connection->session_, NGHTTP2_FLAG_NONE, settings,
                          sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(connection->session_, NGHTTP2_FLAG_NONE, 0, kWindowSize);
  connection->thread_ = std::thread(&H2Connection::Run, connection.get(), std::move(leftover));
  return connection;
}

H2Connection::~H2Connection() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  FailAll(absl::UnavailableError(absl::StrCat("connection to ", peer_, " closed")));
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool H2Connection::Usable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !unusable_ && !stopping_;
}

void H2Connection::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof(one));
}

absl::StatusOr<H2Response> H2Connection::Get(const std::string& path_and_query, absl::Time deadline,
                                             size_t body_capacity) {
  auto request = std::make_shared<Request>();
  request->path = path_and_query;
  request->response.body.reserve(std::min<uint64_t>(body_capacity, kMaxReservedBody));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (unusable_ || stopping_) {
      return failure_.ok()
                 ? absl::UnavailableError(absl::StrCat("connection to ", peer_, " closed"))
                 : failure_;
    }
    queued_.push_back(request);
  }
  Wake();
  std::unique_lock<std::mutex> lock(mu_);
  const auto wait_until = absl::ToChronoTime(deadline);
  while (!request->done) {
    if (request->completed.wait_until(lock, wait_until) == std::cv_status::timeout &&
        !request->done) {
      request->cancelled = true;
      to_reset_.push_back(request);
      lock.unlock();
      Wake();
      return absl::DeadlineExceededError(
          absl::StrCat(peer_, " did not answer ", path_and_query, " in time"));
    }
  }
  if (!request->status.ok()) return request->status;
  return std::move(request->response);
}

void H2Connection::Complete(const std::shared_ptr<Request>& request, absl::Status status) {
  if (request.get() == reading_into_) {
    // nghttp2 is still parsing bytes in this body's room: the caller gets it afterwards.
    completed_while_reading_.emplace_back(request, std::move(status));
    return;
  }
  request->response.body.resize(request->body_filled);  // drops the unused room
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (request->done) return;
    request->done = true;
    request->status = std::move(status);
  }
  // `request` (held here) keeps the condition variable alive after the caller has returned.
  request->completed.notify_one();
}

void H2Connection::FailAll(const absl::Status& status) {
  std::deque<std::shared_ptr<Request>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unusable_ = true;
    if (failure_.ok()) failure_ = status;
    queued.swap(queued_);
    to_reset_.clear();
  }
  for (auto& [id, request] : streams_) {
    if (counters_ != nullptr) counters_->streams_in_flight.fetch_sub(1);
    Complete(request, status);
  }
  streams_.clear();
  for (auto& request : queued) Complete(request, status);
}

bool H2Connection::SubmitQueued() {
  std::vector<std::shared_ptr<Request>> to_send;
  std::vector<std::shared_ptr<Request>> to_reset;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    to_reset.swap(to_reset_);
    if (settings_received_ && !goaway_received_) {
      const uint32_t server_limit =
          nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
      const size_t limit = std::min<size_t>(static_cast<size_t>(max_streams_), server_limit);
      while (!queued_.empty() && streams_.size() + to_send.size() < limit) {
        std::shared_ptr<Request> request = std::move(queued_.front());
        queued_.pop_front();
        if (!request->cancelled) to_send.push_back(std::move(request));
      }
    }
  }
  for (const auto& request : to_reset) {
    if (request->stream_id > 0 && streams_.contains(request->stream_id)) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, request->stream_id, NGHTTP2_CANCEL);
    }
  }
  static constexpr char kMethod[] = ":method";
  static constexpr char kScheme[] = ":scheme";
  static constexpr char kAuthority[] = ":authority";
  static constexpr char kPath[] = ":path";
  static constexpr char kUserAgent[] = "user-agent";
  static constexpr char kContentType[] = "content-type";
  auto header = [](const char* name, size_t namelen, const char* value, size_t valuelen) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value)), namelen, valuelen,
                      NGHTTP2_NV_FLAG_NONE};
  };
  for (const auto& request : to_send) {
    // As the PBS client sends them (spec §4): the authority is always this literal value.
    const std::string_view get = "GET", https = "https", authority = "localhost:8007",
                           agent = "chunkcache/1.0", form = "application/x-www-form-urlencoded";
    const nghttp2_nv headers[] = {
        header(kMethod, sizeof(kMethod) - 1, get.data(), get.size()),
        header(kScheme, sizeof(kScheme) - 1, https.data(), https.size()),
        header(kAuthority, sizeof(kAuthority) - 1, authority.data(), authority.size()),
        header(kPath, sizeof(kPath) - 1, request->path.data(), request->path.size()),
        header(kUserAgent, sizeof(kUserAgent) - 1, agent.data(), agent.size()),
        header(kContentType, sizeof(kContentType) - 1, form.data(), form.size()),
    };
    const int32_t stream_id = nghttp2_submit_request(
        session_, nullptr, headers, sizeof(headers) / sizeof(headers[0]), nullptr, nullptr);
    if (stream_id < 0) {
      Complete(request, absl::UnavailableError(absl::StrCat("cannot open a stream to ", peer_, ": ",
                                                            nghttp2_strerror(stream_id))));
      continue;
    }
    request->stream_id = stream_id;
    streams_.emplace(stream_id, request);
    if (counters_ != nullptr) counters_->streams_in_flight.fetch_add(1);
  }
  return true;
}

char* H2Connection::ReadTarget(std::string& buffer, size_t* capacity) {
  *capacity = buffer.size();
  if (data_remaining_ == 0) return buffer.data();
  auto found = streams_.find(data_stream_);
  if (found == streams_.end()) return buffer.data();
  Request& request = *found->second;
  const size_t want = std::min(data_remaining_, kReadBufferSize);
  if (request.body_filled + want > kMaxH2BodyBytes) return buffer.data();
  std::string& body = request.response.body;
  // Grows into the capacity reserved from content-length; only new room is zeroed.
  if (body.size() < request.body_filled + want) body.resize(request.body_filled + want);
  *capacity = want;
  reading_into_ = &request;
  return body.data() + request.body_filled;
}

void H2Connection::FinishReadingInto() {
  reading_into_ = nullptr;
  std::vector<std::pair<std::shared_ptr<Request>, absl::Status>> completed;
  completed.swap(completed_while_reading_);
  for (auto& [request, status] : completed) Complete(request, std::move(status));
}

bool H2Connection::ReadAvailable(bool* want_write) {
  static thread_local std::string buffer;
  buffer.resize(kReadBufferSize);
  while (true) {
    // SSL_read returns one TLS record (at most 16 KiB) a call: gather what is there first, so
    // that nghttp2 parses, and calls back for, many records at once. The payload of a DATA
    // frame is read straight into its response body: nghttp2 still parses every byte, in order,
    // and OnData finds them already in place instead of copying them from the buffer.
    size_t capacity = 0;
    char* target = ReadTarget(buffer, &capacity);
    size_t filled = 0;
    TlsStream::Io io = TlsStream::Io::kDone;
    while (filled < capacity) {
      size_t got = 0;
      io = stream_->TryRead(target + filled, capacity - filled, &got);
      if (io != TlsStream::Io::kDone) break;
      filled += got;
    }
    const ssize_t used =
        filled > 0
            ? nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(target), filled)
            : 0;
    FinishReadingInto();
    if (used < 0) {
      FailAll(absl::UnavailableError(absl::StrCat("HTTP/2 error on the connection to ", peer_, ": ",
                                                  nghttp2_strerror(static_cast<int>(used)))));
      return false;
    }
    if (io == TlsStream::Io::kDone) continue;
    if (io == TlsStream::Io::kWantRead) return true;
    if (io == TlsStream::Io::kWantWrite) {
      *want_write = true;
      return true;
    }
    FailAll(absl::UnavailableError(absl::StrCat(
        "connection to ", peer_,
        " lost: ", io == TlsStream::Io::kClosed ? "closed by the server" : stream_->last_error())));
    return false;
  }
}

bool H2Connection::WritePending(bool* blocked) {
  *blocked = false;
  while (true) {
    while (out_.size() < kMaxPendingOutput) {
      const uint8_t* data = nullptr;
      const ssize_t length = nghttp2_session_mem_send(session_, &data);
      if (length < 0) {
        FailAll(
            absl::UnavailableError(absl::StrCat("HTTP/2 error on the connection to ", peer_, ": ",
                                                nghttp2_strerror(static_cast<int>(length)))));
        return false;
      }
      if (length == 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
    }
    if (out_.empty()) return true;
    size_t written = 0;
    const TlsStream::Io io = stream_->TryWrite(out_.data(), out_.size(), &written);
    if (io == TlsStream::Io::kDone) {
      out_.erase(0, written);
      continue;
    }
    if (io == TlsStream::Io::kWantWrite || io == TlsStream::Io::kWantRead) {
      *blocked = true;
      return true;
    }
    FailAll(absl::UnavailableError(absl::StrCat(
        "connection to ", peer_, " lost while sending: ",
        io == TlsStream::Io::kClosed ? "closed by the server" : stream_->last_error())));
    return false;
  }
}

void H2Connection::Run(std::string leftover) {
  if (!leftover.empty()) {
    const ssize_t used = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(leftover.data()), leftover.size());
    if (used < 0) {
      FailAll(absl::UnavailableError(absl::StrCat("HTTP/2 error on the connection to ", peer_, ": ",
                                                  nghttp2_strerror(static_cast<int>(used)))));
      return;
    }
  }
  while (true) {
    if (!SubmitQueued()) return;
    bool read_wants_write = false;
    if (!ReadAvailable(&read_wants_write)) return;
    // Reading may have made room for queued requests (closed streams, SETTINGS).
    if (!SubmitQueued()) return;
    bool write_blocked = false;
    if (!WritePending(&write_blocked)) return;
    if (goaway_received_ && streams_.empty() && out_.empty()) {
      FailAll(absl::UnavailableError(absl::StrCat(peer_, " sent GOAWAY")));
      return;
    }
    pollfd fds[2] = {
        {stream_->fd(),
         static_cast<short>(POLLIN | (write_blocked || read_wants_write ? POLLOUT : 0)), 0},
        {wake_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, 1000);
    if (ready < 0 && errno != EINTR) {
      FailAll(absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno))));
      return;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t got = read(wake_fd_, &count, sizeof(count));
    }
  }
}

}  // namespace chunkcache
