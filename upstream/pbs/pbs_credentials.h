// PbsCredentials: how requests to a PBS server authenticate (spec §2.3, §2.4). An API token
// ("user@realm!token") goes in every request as `Authorization: PBSAPIToken id:secret`; a
// user ("user@realm") logs in with its password (POST /api2/json/access/ticket) and sends the
// ticket as a cookie, renewed before it expires (every hour; tickets live 2 h) or after a 401.
// The secret never appears in a message or a log line.
//
//   PbsCredentials credentials("restore@pbs!node1", secret, post_login, &counters);
//   absl::StatusOr<std::string> lines = credentials.HeaderLines(deadline);  // "Authorization: ..."
#ifndef CHUNKCACHE_UPSTREAM_PBS_PBS_CREDENTIALS_H_
#define CHUNKCACHE_UPSTREAM_PBS_PBS_CREDENTIALS_H_

#include <functional>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/pbs/http1_exchange.h"
#include "upstream/pbs/pbs_counters.h"

namespace chunkcache {

class PbsCredentials {
 public:
  // Sends one complete HTTP/1.1 request (the login) on a new connection.
  using SendRequest =
      std::function<absl::StatusOr<Http1Response>(const std::string& request, absl::Time deadline)>;

  PbsCredentials(std::string auth_id, std::string secret, std::string host_header, SendRequest send,
                 PbsUpstreamCounters* counters);

  // The header lines ("Name: value\r\n"...) that authenticate a request; logs in first when a
  // user has no valid ticket. FAILED_PRECONDITION when the server refuses the password.
  absl::StatusOr<std::string> HeaderLines(absl::Time deadline);

  // The server answered 401 to a request sent with `used` (HeaderLines' result). True when
  // sending again may succeed: a user's ticket is dropped, so the next HeaderLines logs in.
  bool RenewAfterUnauthorized(const std::string& used);

  const std::string& auth_id() const { return auth_id_; }
  bool is_token() const { return is_token_; }

 private:
  absl::Status LoginLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string auth_id_;
  const std::string secret_;
  const std::string host_header_;
  const bool is_token_;
  const SendRequest send_;
  PbsUpstreamCounters* const counters_;

  std::mutex mu_;
  std::string ticket_lines_ ABSL_GUARDED_BY(mu_);  // empty: log in first
  absl::Time ticket_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_PBS_CREDENTIALS_H_
