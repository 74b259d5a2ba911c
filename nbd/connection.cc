#include "nbd/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"
#include "nbd/export_name.h"
#include "nbd/protocol.h"
#include "nbd/reply_encoder.h"
#include "spdlog/spdlog.h"

namespace chunkcache::nbd {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// Options carry names and a few queries; anything longer is skipped and refused.
constexpr uint32_t kMaxOptionLength = 64 * 1024;
// Unparsed input held at once (requests are 28 bytes; options at most kMaxOptionLength).
constexpr size_t kMaxBufferedInput = 256 * 1024;
// Requests of one connection in flight at once, whatever their size.
constexpr size_t kMaxRequestsInFlight = 4096;
// Extents in one block status reply (8 bytes each).
constexpr size_t kMaxExtents = 64 * 1024;
constexpr uint32_t kDefaultPreferredBlock = 4 << 20;

uint32_t ErrnoFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kErrInvalid;
    case absl::StatusCode::kResourceExhausted:
      return kErrNoMem;
    default:
      return kErrIo;  // DATA_LOSS (never served), UNAVAILABLE after the retries, ...
  }
}

uint32_t OptionErrorFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kRepErrPolicy;
    default:
      return kRepErrUnknown;
  }
}

uint32_t PowerOfTwoAtMost(uint64_t value) {
  uint32_t power = 512;
  while (uint64_t{power} * 2 <= value && power < (1u << 30)) power *= 2;
  return power;
}

std::string ToString(std::string_view view) { return std::string(view); }

}  // namespace

NbdConnection::NbdConnection(ConnectionContext* context, EventLoop* loop, int fd, NbdClient client)
    : context_(context),
      loop_(loop),
      fd_(fd),
      client_(std::move(client)),
      reply_pins_(context->reply_pins != nullptr ? context->reply_pins->ForConnection(client_)
                                                 : nullptr),
      output_(reply_pins_.get()) {
  {
    std::lock_guard<std::mutex> lock(context_->mu);
    ++context_->open_connections;
  }
  if (context_->observer != nullptr) context_->observer->OnConnectionOpened();
}

NbdConnection::~NbdConnection() {
  registered_ = false;  // the loop has dropped its handlers already
  Close();
}

void NbdConnection::Start() {
  loop_->Add(fd_, EPOLLIN, shared_from_this());
  registered_ = true;
  interest_ = EPOLLIN;
  output_.Append(Greeting());
  Flush();
  AfterEvent();
}

void NbdConnection::OnEvents(uint32_t events) {
  if (phase_ == Phase::kClosed) return;
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    Fail("peer hung up");
  } else if (tls_ != nullptr) {
    // A TLS read may need the socket writable and a write readable: try whatever is wanted.
    tls_wants_read_ = false;
    tls_wants_write_ = false;
    Flush();
    if (WantRead()) ReadInput();
  } else {
    if ((events & EPOLLOUT) != 0) Flush();
    if ((events & EPOLLIN) != 0 && WantRead()) ReadInput();
  }
  AfterEvent();
}

void NbdConnection::OnTick(absl::Time now) {
  if (phase_ == Phase::kClosed) return;
  const bool handshaking = phase_ == Phase::kClientFlags || phase_ == Phase::kOptions ||
                           phase_ == Phase::kTlsHandshake || phase_ == Phase::kOpening;
  if (handshaking && now - started_ > context_->handshake_timeout) {
    Fail("handshake not finished in time");
  } else if (!output_.empty() && now - last_progress_ > context_->stall_timeout) {
    Fail("client stopped reading its replies");
  }
  AfterEvent();
}

void NbdConnection::BeginDrain() {
  if (phase_ == Phase::kClosed) return;
  draining_ = true;
  if (phase_ != Phase::kTransmission) Fail("server shutting down");
  AfterEvent();
}

void NbdConnection::OnForceClose() {
  if (phase_ == Phase::kClosed) return;
  Fail("server shut down before the requests in flight finished");
  AfterEvent();
}

void NbdConnection::Fail(std::string_view reason) {
  if (close_reason_.empty()) close_reason_ = std::string(reason);
  close_now_ = true;
}

void NbdConnection::AfterEvent() {
  if (phase_ == Phase::kClosed) return;
  if (!close_now_ && phase_ == Phase::kTlsHandshake) StepTlsHandshake();
  // Requests already buffered wait for the budget, which a write may just have freed: the
  // socket will not report them again.
  if (!close_now_ && phase_ == Phase::kTransmission && input_start_ < input_.size() && !draining_ &&
      !OverBudget()) {
    ProcessInput();
    Flush();
  }
  // Bytes OpenSSL has already taken from the socket: epoll will not report them either.
  while (!close_now_ && tls_ != nullptr && phase_ != Phase::kTlsHandshake && WantRead() &&
         tls_->HasPending() && ReadInput()) {
  }
  if (!close_now_) {
    if (phase_ == Phase::kClosing && output_.empty()) {
      Fail("option haggling aborted");
    } else if (phase_ == Phase::kTransmission && draining_ && reads_.empty() && output_.empty()) {
      Fail("disconnect requested");
    }
  }
  if (close_now_) {
    spdlog::debug("event=nbd_disconnect peer={} reason={}", client_.peer, close_reason_);
    Close();
    return;
  }
  if (output_.empty()) last_progress_ = absl::Now();
  UpdateInterest();
}

void NbdConnection::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  for (auto& [id, read] : reads_) {
    for (RangeReadTicket& ticket : read.tickets) ticket.Cancel();
  }
  reads_.clear();
  output_.Clear();
  export_.reset();
  if (registered_) loop_->Remove(fd_);  // the caller holds a reference to this
  registered_ = false;
  if (tls_ != nullptr) tls_->Shutdown();
  close(fd_);
  if (context_->observer != nullptr) context_->observer->OnConnectionClosed();
  std::lock_guard<std::mutex> lock(context_->mu);
  if (--context_->open_connections == 0) context_->all_closed.notify_all();
}

bool NbdConnection::OverBudget() const {
  return read_bytes_in_flight_ + output_.bytes() >= context_->max_connection_bytes ||
         reads_.size() >= kMaxRequestsInFlight ||
         (reply_pins_ != nullptr && reply_pins_->OverShare());
}

bool NbdConnection::WantRead() const {
  if (close_now_ || input_.size() - input_start_ >= kMaxBufferedInput) return false;
  switch (phase_) {
    case Phase::kClientFlags:
    case Phase::kOptions:
      return true;
    case Phase::kTransmission:
      return !draining_ && (discard_left_ > 0 || !OverBudget());
    default:
      return false;
  }
}

void NbdConnection::UpdateInterest() {
  if (!registered_) return;
  const bool readable = WantRead() || tls_wants_read_;
  const bool writable = !output_.empty() || tls_wants_write_;
  const uint32_t wanted =
      (readable ? uint32_t{EPOLLIN} : 0u) | (writable ? uint32_t{EPOLLOUT} : 0u);
  if (wanted != interest_) {
    loop_->Modify(fd_, wanted);
    interest_ = wanted;
  }
}

bool NbdConnection::ReadInput() {
  if (input_start_ > 0 && input_start_ == input_.size()) {
    input_.clear();
    input_start_ = 0;
  }
  const size_t old_size = input_.size();
  input_.resize(old_size + kReadBufferSize);
  if (tls_ != nullptr) {
    size_t got = 0;
    const TlsIo io = tls_->Read(input_.data() + old_size, kReadBufferSize, &got);
    input_.resize(old_size + got);
    switch (io) {
      case TlsIo::kDone:
        break;
      case TlsIo::kWantRead:
        tls_wants_read_ = true;
        return false;
      case TlsIo::kWantWrite:
        tls_wants_write_ = true;
        return false;
      case TlsIo::kClosed:
        Fail("peer closed the TLS session");
        return false;
      case TlsIo::kError:
        Fail(tls_->error());
        return false;
    }
  } else {
    ssize_t got;
    do {
      got = recv(fd_, input_.data() + old_size, kReadBufferSize, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    input_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    if (got == 0) {
      Fail("peer closed the connection");
      return false;
    }
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) Fail("receive failed");
      return false;
    }
  }
  ProcessInput();
  Flush();
  return true;
}

void NbdConnection::ProcessInput() {
  while (!close_now_ && phase_ != Phase::kClosed) {
    const std::string_view available =
        std::string_view(input_).substr(input_start_, input_.size() - input_start_);
    if (discard_left_ > 0) {
      const uint64_t skipped = std::min<uint64_t>(discard_left_, available.size());
      input_start_ += skipped;
      discard_left_ -= skipped;
      if (discard_left_ > 0) break;
      if (after_discard_reply_.has_value()) {
        ReplyOption(*after_discard_reply_, kRepErrTooBig,
                    absl::StrCat("option data longer than ", kMaxOptionLength, " bytes"));
        after_discard_reply_.reset();
      }
      continue;
    }
    if (phase_ == Phase::kClientFlags) {
      if (available.size() < 4) break;
      absl::StatusOr<uint32_t> flags = ParseClientFlags(available.substr(0, 4));
      if (!flags.ok()) {
        Fail(ToStd(flags.status().message()));
        break;
      }
      no_zeroes_ = (*flags & kClientFlagNoZeroes) != 0;
      input_start_ += 4;
      phase_ = Phase::kOptions;
    } else if (phase_ == Phase::kOptions) {
      if (available.size() < kOptionHeaderSize) break;
      absl::StatusOr<OptionHeader> header =
          ParseOptionHeader(available.substr(0, kOptionHeaderSize));
      if (!header.ok()) {
        Fail(ToStd(header.status().message()));
        break;
      }
      if (header->length > kMaxOptionLength) {
        if (header->option == kOptExportName) {  // cannot be refused politely
          Fail("oversized NBD_OPT_EXPORT_NAME");
          break;
        }
        input_start_ += kOptionHeaderSize;
        discard_left_ = header->length;
        after_discard_reply_ = header->option;
        continue;
      }
      if (available.size() < kOptionHeaderSize + header->length) break;
      const std::string_view payload = available.substr(kOptionHeaderSize, header->length);
      HandleOption(*header, payload);
      input_start_ += kOptionHeaderSize + header->length;
    } else if (phase_ == Phase::kTransmission) {
      if (draining_ || OverBudget() || available.size() < kRequestHeaderSize) break;
      absl::StatusOr<Request> request = ParseRequestHeader(available.substr(0, kRequestHeaderSize));
      if (!request.ok()) {
        Fail(ToStd(request.status().message()));
        break;
      }
      input_start_ += kRequestHeaderSize;
      HandleRequest(*request);
    } else {
      break;  // opening an export, or closing
    }
  }
  if (input_start_ == input_.size()) {
    input_.clear();
    input_start_ = 0;
  } else if (input_start_ > kReadBufferSize) {
    input_.erase(0, input_start_);
    input_start_ = 0;
  }
}

void NbdConnection::Flush() {
  if (output_.empty() || close_now_) return;
  bool wants_read = false;
  absl::StatusOr<uint64_t> written =
      tls_ != nullptr ? output_.WriteTo(*tls_, &wants_read) : output_.WriteTo(fd_);
  if (wants_read) tls_wants_read_ = true;
  if (!written.ok()) {
    Fail(ToStd(written.status().message()));
  } else if (*written > 0) {
    last_progress_ = absl::Now();
  }
}

void NbdConnection::StepTlsHandshake() {
  if (!output_.empty()) return;  // STARTTLS's ACK goes first, in the clear
  if (tls_ == nullptr) {
    if (input_start_ != input_.size()) {
      Fail("data after NBD_OPT_STARTTLS before its reply");
      return;
    }
    tls_ = std::make_unique<TlsSession>(context_->tls, fd_);
  }
  tls_wants_read_ = false;
  tls_wants_write_ = false;
  switch (tls_->Handshake()) {
    case TlsIo::kDone:
      client_.tls = true;
      client_.cert_subject = tls_->peer_subject();
      phase_ = Phase::kOptions;
      spdlog::debug("event=nbd_tls_started peer={} subject={}", client_.peer,
                    client_.cert_subject.empty() ? "none" : client_.cert_subject);
      return;
    case TlsIo::kWantRead:
      tls_wants_read_ = true;
      return;
    case TlsIo::kWantWrite:
      tls_wants_write_ = true;
      return;
    default:
      spdlog::info("event=nbd_tls_failed peer={} error={}", client_.peer, tls_->error());
      Fail("TLS handshake failed");
      return;
  }
}

// ---- Handshake ----

void NbdConnection::ReplyOption(uint32_t option, uint32_t type, std::string_view data) {
  output_.Append(OptionReply(option, type, data));
}

void NbdConnection::HandleOption(const OptionHeader& header, std::string_view payload) {
  const uint32_t option = header.option;
  if (context_->tls != nullptr && tls_ == nullptr && option != kOptStartTls &&
      option != kOptAbort) {
    // FORCEDTLS: nothing, not even the export list, in the clear.
    if (option == kOptExportName) {
      Fail("NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS on a server that requires TLS");
    } else {
      ReplyOption(option, kRepErrTlsReqd, "this server requires TLS: send NBD_OPT_STARTTLS first");
    }
    return;
  }
  switch (option) {
    case kOptExportName:
      StartOpen(OpenPurpose::kExportName, option, ToString(payload), {});
      return;
    case kOptAbort:
      ReplyOption(option, kRepAck);
      phase_ = Phase::kClosing;
      return;
    case kOptList:
      if (!payload.empty()) {
        ReplyOption(option, kRepErrInvalid, "NBD_OPT_LIST takes no data");
        return;
      }
      for (const std::string& name : context_->resolver->List(client_)) {
        ReplyOption(option, kRepServer, ServerReplyData(name));
      }
      ReplyOption(option, kRepAck);
      return;
    case kOptStartTls:
      if (context_->tls == nullptr) {
        ReplyOption(option, kRepErrPolicy, "TLS is not configured for NBD on this server");
      } else if (tls_ != nullptr) {
        ReplyOption(option, kRepErrInvalid, "TLS is already started");
      } else if (!payload.empty()) {
        ReplyOption(option, kRepErrInvalid, "NBD_OPT_STARTTLS takes no data");
      } else {
        ReplyOption(option, kRepAck);
        phase_ = Phase::kTlsHandshake;  // once the ACK is sent (StepTlsHandshake)
      }
      return;
    case kOptInfo:
    case kOptGo: {
      absl::StatusOr<InfoRequest> request = ParseInfoRequest(payload);
      if (!request.ok()) {
        ReplyOption(option, kRepErrInvalid, ToStd(request.status().message()));
        return;
      }
      StartOpen(option == kOptGo ? OpenPurpose::kGo : OpenPurpose::kInfo, option,
                std::move(request->name), std::move(request->info_types));
      return;
    }
    case kOptStructuredReply:
      if (!payload.empty()) {
        ReplyOption(option, kRepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
        return;
      }
      structured_ = true;
      ReplyOption(option, kRepAck);
      return;
    case kOptListMetaContext:
    case kOptSetMetaContext:
      HandleMetaContext(option, payload);
      return;
    default:
      ReplyOption(option, kRepErrUnsup, absl::StrCat("option ", option, " is not supported"));
      return;
  }
}

void NbdConnection::HandleMetaContext(uint32_t option, std::string_view payload) {
  if (!structured_) {
    ReplyOption(option, kRepErrInvalid, "negotiate NBD_OPT_STRUCTURED_REPLY first");
    return;
  }
  absl::StatusOr<MetaContextRequest> request = ParseMetaContextRequest(payload);
  if (!request.ok()) {
    ReplyOption(option, kRepErrInvalid, ToStd(request.status().message()));
    return;
  }
  if (absl::StatusOr<ExportName> name = ParseExportName(request->name); !name.ok()) {
    ReplyOption(option, kRepErrUnknown, ToStd(name.status().message()));
    return;
  }
  const bool listing = option == kOptListMetaContext;
  const bool matches = MatchesBaseAllocation(request->queries, listing);
  if (!listing) base_allocation_ = matches;
  if (matches) {
    ReplyOption(option, kRepMetaContext,
                MetaContextData(listing ? 0 : kBaseAllocationContextId, kBaseAllocation));
  }
  ReplyOption(option, kRepAck);
}

void NbdConnection::StartOpen(OpenPurpose purpose, uint32_t option, std::string name,
                              std::vector<uint16_t> info_types) {
  phase_ = Phase::kOpening;
  const std::string name_copy = name;
  context_->resolver->Open(
      client_, name_copy,
      [queue = loop_->queue(), weak = weak_from_this(), purpose, option, name = std::move(name),
       info_types = std::move(info_types)](absl::StatusOr<NbdExport> exported) mutable {
        // The zero-chunk layout hashes a chunk of zeros: done here, off the loop when the
        // open ran on a worker.
        absl::StatusOr<OpenedExport> opened = absl::UnknownError("not opened");
        if (exported.ok()) {
          auto layout = std::make_shared<ArchiveLayout>(
              ArchiveLayout::Build(exported->session->index(), exported->key.get()));
          opened = OpenedExport{*std::move(exported), std::move(layout)};
        } else {
          opened = exported.status();
        }
        queue->Post([weak, purpose, option, name = std::move(name),
                     info_types = std::move(info_types), opened = std::move(opened)]() mutable {
          if (std::shared_ptr<NbdConnection> self = weak.lock()) {
            self->OnOpened(purpose, option, name, info_types, std::move(opened));
            self->ProcessInput();
            self->Flush();
            self->AfterEvent();
          }
        });
      });
}

uint16_t NbdConnection::TransmissionFlags() const {
  return kFlagHasFlags | kFlagReadOnly | kFlagCanMultiConn | kFlagSendCache |
         (structured_ ? kFlagSendDf : 0);
}

void NbdConnection::OnOpened(OpenPurpose purpose, uint32_t option, const std::string& name,
                             const std::vector<uint16_t>& info_types,
                             absl::StatusOr<OpenedExport> opened) {
  if (phase_ != Phase::kOpening || close_now_) return;
  if (!opened.ok()) {
    spdlog::info("event=nbd_export_refused peer={} export={} error={}", client_.peer,
                 name.substr(0, 300), ToStd(opened.status().message()));
    if (purpose == OpenPurpose::kExportName) {
      Fail("NBD_OPT_EXPORT_NAME of an export that cannot be served");
      return;
    }
    ReplyOption(option, OptionErrorFor(opened.status()), ToStd(opened.status().message()));
    phase_ = Phase::kOptions;
    return;
  }
  const uint64_t size = opened->layout->size();
  if (purpose == OpenPurpose::kExportName) {
    output_.Append(ExportNameReply(size, TransmissionFlags(), no_zeroes_));
  } else {
    ReplyOption(option, kRepInfo, InfoExportData(size, TransmissionFlags()));
    for (uint16_t type : info_types) {
      if (type == kInfoName) {
        ReplyOption(option, kRepInfo, InfoStringData(kInfoName, name));
      } else if (type == kInfoDescription) {
        ReplyOption(option, kRepInfo,
                    InfoStringData(kInfoDescription, opened->exported.description));
      } else if (type == kInfoBlockSize) {
        const uint64_t chunk_size = opened->exported.session->index().chunk_size();
        const uint32_t preferred = PowerOfTwoAtMost(std::min<uint64_t>(
            chunk_size != 0 ? chunk_size : kDefaultPreferredBlock, context_->max_block_size));
        ReplyOption(option, kRepInfo, InfoBlockSizeData(1, preferred, context_->max_block_size));
      }
    }
    ReplyOption(option, kRepAck);
    if (purpose == OpenPurpose::kInfo) {
      phase_ = Phase::kOptions;
      return;
    }
  }
  export_ = *std::move(opened);
  limits_.export_size = size;
  limits_.max_block_size = context_->max_block_size;
  limits_.structured_replies = structured_;
  limits_.base_allocation = base_allocation_;
  phase_ = Phase::kTransmission;
  spdlog::debug("event=nbd_export_opened peer={} export={}", client_.peer, name);
}

// ---- Transmission ----

void NbdConnection::Record(const Request& request, uint32_t error, absl::Time start) {
  if (context_->observer == nullptr) return;
  context_->observer->OnRequest(CommandName(request.type), ResultName(error), absl::Now() - start);
}

void NbdConnection::HandleRequest(const Request& request) {
  const absl::Time start = absl::Now();
  discard_left_ = request.payload_length();
  if (const uint32_t error = CheckRequest(request, limits_); error != 0) {
    std::string message;
    if (error == kErrPerm) {
      message = "the export is read-only";
    } else {
      message = absl::StrCat(ToAbsl(CommandName(request.type)), " of ", request.length,
                             " bytes at ", request.offset, " refused (export size ",
                             limits_.export_size, ", largest read ", limits_.max_block_size, ")");
    }
    ReplyError(request, error, message, start);
    return;
  }
  switch (request.type) {
    case kCmdDisc:
      Record(request, 0, start);
      draining_ = true;
      return;
    case kCmdFlush:
      ReplyDone(request, start);
      return;
    case kCmdCache: {
      const ByteRange range{request.offset, request.length};
      (void)export_->exported.session->Prefetch({&range, 1});
      ReplyDone(request, start);
      return;
    }
    case kCmdBlockStatus:
      ReplyBlockStatus(request, start);
      return;
    case kCmdRead:
      StartRead(request, start);
      return;
    default:
      ReplyError(request, kErrInvalid, "unknown command", start);
      return;
  }
}

void NbdConnection::ReplyError(const Request& request, uint32_t error, std::string_view message,
                               absl::Time start) {
  if (structured_) {
    output_.Append(ErrorChunk(kReplyFlagDone, request.cookie, error, message));
  } else {
    output_.Append(SimpleReplyHeader(error, request.cookie));
  }
  Record(request, error, start);
}

void NbdConnection::ReplyDone(const Request& request, absl::Time start) {
  output_.Append(SimpleReplyHeader(0, request.cookie));
  Record(request, 0, start);
}

void NbdConnection::ReplyBlockStatus(const Request& request, absl::Time start) {
  const size_t max_runs = (request.flags & kCmdFlagReqOne) != 0 ? 1 : kMaxExtents;
  std::vector<Extent> extents;
  for (const LayoutRun& run : export_->layout->Runs(request.offset, request.length, max_runs)) {
    extents.push_back({static_cast<uint32_t>(run.length), run.zero ? kStateHole | kStateZero : 0});
  }
  output_.Append(
      BlockStatusChunk(kReplyFlagDone, request.cookie, kBaseAllocationContextId, extents));
  Record(request, 0, start);
}

void NbdConnection::StartRead(const Request& request, absl::Time start) {
  const uint64_t id = next_read_id_++;
  InFlightRead& read = reads_[id];
  read.request = request;
  read.start = start;
  read.streaming = structured_ && (request.flags & kCmdFlagDf) == 0;
  read.runs =
      export_->layout->Runs(request.offset, request.length, std::numeric_limits<size_t>::max());
  read.results.resize(read.runs.size());
  read.tickets.resize(read.runs.size());
  read.chunks_unsent = read.runs.size();
  read_bytes_in_flight_ += request.length;
  for (size_t run = 0; run < read.runs.size(); ++run) {
    if (read.runs[run].zero) {
      if (read.streaming) {
        --read.chunks_unsent;
        output_.Append(OffsetHoleChunk(read.chunks_unsent == 0 ? kReplyFlagDone : 0, request.cookie,
                                       read.runs[run].offset,
                                       static_cast<uint32_t>(read.runs[run].length)));
      }
    } else {
      ++read.runs_waiting;
    }
  }
  if (read.runs_waiting == 0) {
    FinishRead(id);
    return;
  }
  // Chunks already cached answer inside ReadAsync; handle them once every read is started
  // (handling one may finish the request and drop `read`).
  std::vector<std::pair<size_t, absl::StatusOr<RangeRead>>> ready;
  SnapshotSession& session = *export_->exported.session;
  for (size_t run = 0; run < read.runs.size(); ++run) {
    if (read.runs[run].zero) continue;
    RangeReadTicket ticket = session.ReadAsync(
        read.runs[run].offset, read.runs[run].length,
        [queue = loop_->queue(), weak = weak_from_this(), id,
         run](absl::StatusOr<RangeRead> result) mutable {
          queue->Post([weak, id, run, result = std::move(result)]() mutable {
            if (std::shared_ptr<NbdConnection> self = weak.lock()) {
              self->OnRunRead(id, run, std::move(result));
              self->ProcessInput();  // the budget may allow more requests now
              self->Flush();
              self->AfterEvent();
            }
          });
        },
        requester_);
    if (ticket.ready()) {
      ready.emplace_back(run, ticket.TakeResult());
    } else {
      read.tickets[run] = std::move(ticket);
    }
  }
  for (auto& [run, result] : ready) OnRunRead(id, run, std::move(result));
}

void NbdConnection::OnRunRead(uint64_t id, size_t run, absl::StatusOr<RangeRead> result) {
  auto it = reads_.find(id);
  if (it == reads_.end()) return;
  InFlightRead& read = it->second;
  read.tickets[run] = RangeReadTicket();
  if (result.ok() && result->length() != read.runs[run].length) {
    result = absl::InternalError("the cache returned a short read inside the archive");
  }
  if (!result.ok()) {
    spdlog::warn("event=nbd_read_failed peer={} export={} offset={} length={} error={}",
                 client_.peer, export_->exported.session->archive(), read.runs[run].offset,
                 read.runs[run].length, ToStd(result.status().message()));
    if (read.error == 0) read.error = ErrnoFor(result.status());
  }
  if (read.streaming) {
    --read.chunks_unsent;
    const uint16_t flags = read.chunks_unsent == 0 ? kReplyFlagDone : 0;
    const LayoutRun& span = read.runs[run];
    if (result.ok()) {
      output_.Append(OffsetDataHeader(flags, read.request.cookie, span.offset,
                                      static_cast<uint32_t>(span.length)));
      for (ChunkSlice& slice : result->slices) output_.Append(std::move(slice));
    } else {
      output_.Append(ErrorChunk(flags, read.request.cookie, ErrnoFor(result.status()),
                                ToStd(result.status().message()), &span.offset));
    }
  } else {
    read.results[run] = std::move(result);
  }
  if (--read.runs_waiting == 0) FinishRead(id);
}

void NbdConnection::FinishRead(uint64_t id) {
  auto it = reads_.find(id);
  InFlightRead& read = it->second;
  const Request& request = read.request;
  read_bytes_in_flight_ -= request.length;
  if (!read.streaming) {
    if (read.error != 0) {
      if (structured_) {
        output_.Append(
            ErrorChunk(kReplyFlagDone, request.cookie, read.error, "reading the archive failed"));
      } else {
        output_.Append(SimpleReplyHeader(read.error, request.cookie));
      }
    } else {
      output_.Append(structured_ ? OffsetDataHeader(kReplyFlagDone, request.cookie, request.offset,
                                                    request.length)
                                 : SimpleReplyHeader(0, request.cookie));
      for (size_t run = 0; run < read.runs.size(); ++run) {
        if (read.runs[run].zero) {
          output_.AppendZeros(read.runs[run].length);
        } else {
          for (ChunkSlice& slice : (*read.results[run])->slices) output_.Append(std::move(slice));
        }
      }
    }
  }
  Record(request, read.error, read.start);
  if (read.error == 0 && context_->observer != nullptr) {
    context_->observer->OnReadBytes(request.length);
  }
  reads_.erase(it);
}

}  // namespace chunkcache::nbd
