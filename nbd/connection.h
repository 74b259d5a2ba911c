// NbdConnection: one client connection, from the greeting to the last reply, driven by its
// EventLoop (never blocks; all state on the loop thread).
//
// Handshake: fixed newstyle options (option_parser.h) until NBD_OPT_GO or EXPORT_NAME, after
// NBD_OPT_STARTTLS (tls_session.h) when the server has TLS, which it then requires; an
// export is opened through the NbdExportResolver without blocking the loop (the connection
// reads nothing until the answer is posted back). Transmission: each request is checked
// (request_parser.h) and served; reads are split into zero-chunk runs (holes: nothing is
// fetched) and data runs read from the archive's session with ReadAsync, answered as their
// chunks arrive, out of order. Replies hold their arena slices pinned until written
// (output_queue.h). The bytes of reads in flight plus unsent replies are bounded per
// connection: over the bound the connection stops reading requests, so a client that does
// not read its replies stalls only itself (and is dropped after stall_timeout). The chunks its
// unsent replies pin are charged to the server's reply pin budget (reply_pin_account.h), shared
// with gRPC: beyond it replies are copied, and a connection over its share reads no new
// requests until its replies drain.
//
//   auto connection = std::make_shared<NbdConnection>(context, loop, fd, client);
//   connection->Start();                     // on the loop thread
//   connection->BeginDrain();                // server shutdown: finish what is in flight
#ifndef CHUNKCACHE_NBD_CONNECTION_H_
#define CHUNKCACHE_NBD_CONNECTION_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cache/range_read.h"
#include "nbd/archive_layout.h"
#include "nbd/event_loop.h"
#include "nbd/nbd_export.h"
#include "nbd/nbd_observer.h"
#include "nbd/option_parser.h"
#include "nbd/output_queue.h"
#include "nbd/reply_pin_account.h"
#include "nbd/request_parser.h"
#include "nbd/tls_session.h"

namespace chunkcache::nbd {

// Shared by the server and all its connections.
struct ConnectionContext {
  NbdExportResolver* resolver = nullptr;
  NbdObserver* observer = nullptr;            // may be null
  NbdReplyPinAccounts* reply_pins = nullptr;  // may be null: replies pin without a budget
  // Set: TLS is required (FORCEDTLS): every option but STARTTLS and ABORT is refused with
  // NBD_REP_ERR_TLS_REQD until the client has started TLS. Null: STARTTLS is refused.
  std::shared_ptr<NbdTlsContext> tls;
  uint32_t max_block_size = 32 << 20;
  uint64_t max_connection_bytes = uint64_t{64} << 20;
  absl::Duration handshake_timeout = absl::Seconds(30);
  absl::Duration stall_timeout = absl::Seconds(60);

  // Open connections, for shutdown.
  std::mutex mu;
  std::condition_variable all_closed;
  size_t open_connections = 0;  // guarded by mu
};

// An opened export with its zero-chunk layout (built off the loop thread).
struct OpenedExport {
  NbdExport exported;
  std::shared_ptr<const ArchiveLayout> layout;
};

class NbdConnection : public EventHandler, public std::enable_shared_from_this<NbdConnection> {
 public:
  NbdConnection(ConnectionContext* context, EventLoop* loop, int fd, NbdClient client);
  ~NbdConnection() override;

  void Start();
  void OnEvents(uint32_t events) override;
  void OnTick(absl::Time now) override;
  void OnDrain() override { BeginDrain(); }
  void OnForceClose() override;
  // Handshakes end now; transmission stops reading requests and ends once those in flight
  // are answered and sent.
  void BeginDrain();
  // Ends the connection now: reads in flight are abandoned, unsent replies dropped.
  void Close();

 private:
  enum class Phase {
    kClientFlags,
    kOptions,
    kTlsHandshake,  // after STARTTLS's ACK is sent, until the TLS handshake is done
    kOpening,
    kTransmission,
    kClosing,
    kClosed
  };
  enum class OpenPurpose { kExportName, kInfo, kGo };

  struct InFlightRead {
    Request request;
    absl::Time start;
    std::vector<LayoutRun> runs;
    std::vector<std::optional<absl::StatusOr<RangeRead>>> results;  // data runs, assembled mode
    std::vector<RangeReadTicket> tickets;
    size_t runs_waiting = 0;   // data runs not yet read
    size_t chunks_unsent = 0;  // streaming mode: reply chunks still to queue
    bool streaming = false;    // structured without DF: each run is its own chunk
    uint32_t error = 0;
  };

  // Marks the connection for closing; the entry point that called it closes it on the way out
  // (AfterEvent), so that no handler closes the connection under its own feet.
  void Fail(std::string_view reason);
  // Ends every entry point (events, ticks, posted results): closes a failed or finished
  // connection, else updates what the loop waits for.
  void AfterEvent();
  bool OverBudget() const;
  bool WantRead() const;
  void UpdateInterest();
  // True when it read bytes (TLS: decrypted bytes).
  bool ReadInput();
  void ProcessInput();
  void Flush();
  void StepTlsHandshake();

  // Handshake.
  void HandleOption(const OptionHeader& header, std::string_view payload);
  void ReplyOption(uint32_t option, uint32_t type, std::string_view data = {});
  void StartOpen(OpenPurpose purpose, uint32_t option, std::string name,
                 std::vector<uint16_t> info_types);
  void OnOpened(OpenPurpose purpose, uint32_t option, const std::string& name,
                const std::vector<uint16_t>& info_types, absl::StatusOr<OpenedExport> opened);
  void HandleMetaContext(uint32_t option, std::string_view payload);
  uint16_t TransmissionFlags() const;

  // Transmission.
  void HandleRequest(const Request& request);
  void ReplyError(const Request& request, uint32_t error, std::string_view message,
                  absl::Time start);
  void ReplyDone(const Request& request, absl::Time start);
  void StartRead(const Request& request, absl::Time start);
  void OnRunRead(uint64_t id, size_t run, absl::StatusOr<RangeRead> result);
  void FinishRead(uint64_t id);
  void ReplyBlockStatus(const Request& request, absl::Time start);
  void Record(const Request& request, uint32_t error, absl::Time start);

  ConnectionContext* const context_;
  EventLoop* const loop_;
  const int fd_;
  NbdClient client_;  // its TLS identity is set after STARTTLS
  const absl::Time started_ = absl::Now();

  Phase phase_ = Phase::kClientFlags;
  bool registered_ = false;
  bool close_now_ = false;
  std::string close_reason_;
  uint32_t interest_ = 0;
  std::unique_ptr<TlsSession> tls_;  // after STARTTLS
  // The last TLS call waits for the socket to become readable / writable.
  bool tls_wants_read_ = false;
  bool tls_wants_write_ = false;
  std::string input_;
  size_t input_start_ = 0;     // bytes of input_ already parsed
  uint64_t discard_left_ = 0;  // payload bytes to skip (refused writes, oversized options)
  std::optional<uint32_t> after_discard_reply_;        // option to answer ERR_TOO_BIG once skipped
  const std::unique_ptr<ReplyPinAccount> reply_pins_;  // may be null; outlives output_
  OutputQueue output_;
  absl::Time last_progress_ = absl::Now();

  bool no_zeroes_ = false;
  bool structured_ = false;
  bool base_allocation_ = false;
  bool draining_ = false;  // NBD_CMD_DISC or server shutdown

  std::optional<OpenedExport> export_;
  RequestLimits limits_;
  // The connection's reads as one reader of the session (ChunkRequest::requester), for the
  // fair fetch queue and for telling a guest's random reads from a copy's sequential ones on
  // another connection. Unique among the connections open at once.
  const uint64_t requester_ = absl::HashOf(static_cast<const void*>(this));
  uint64_t next_read_id_ = 0;
  absl::flat_hash_map<uint64_t, InFlightRead> reads_;
  uint64_t read_bytes_in_flight_ = 0;
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_CONNECTION_H_
