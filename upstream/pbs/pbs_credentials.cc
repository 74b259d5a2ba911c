#include "upstream/pbs/pbs_credentials.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "upstream/pbs/pbs_options.h"

namespace chunkcache {
namespace {

// A ticket is valid for 2 h; the PBS client renews every 15 min, we renew after an hour.
constexpr absl::Duration kTicketRenewAfter = absl::Hours(1);

// The PBS client's DEFAULT_ENCODE_SET for the token secret (spec §2.3): control bytes, space,
// '"', '#', '<', '>', '`', '?', '{', '}' and every byte >= 0x7f.
std::string PercentEncodeDefaultSet(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool encode = u < 0x20 || u >= 0x7f || c == ' ' || c == '"' || c == '#' || c == '<' ||
                        c == '>' || c == '`' || c == '?' || c == '{' || c == '}' || c == '%';
    if (encode) {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

PbsCredentials::PbsCredentials(std::string auth_id, std::string secret, std::string host_header,
                               SendRequest send, PbsUpstreamCounters* counters)
    : auth_id_(std::move(auth_id)),
      secret_(std::move(secret)),
      host_header_(std::move(host_header)),
      is_token_(IsApiTokenId(auth_id_)),
      send_(std::move(send)),
      counters_(counters) {}

absl::StatusOr<std::string> PbsCredentials::HeaderLines(absl::Time deadline) {
  if (is_token_) {
    return absl::StrCat("Authorization: PBSAPIToken ", auth_id_, ":",
                        PercentEncodeDefaultSet(secret_), "\r\n");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket_lines_.empty() || absl::Now() - ticket_time_ > kTicketRenewAfter) {
    if (absl::Status login = LoginLocked(deadline); !login.ok()) return login;
  }
  return ticket_lines_;
}

bool PbsCredentials::RenewAfterUnauthorized(const std::string& used) {
  if (is_token_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket_lines_ == used) ticket_lines_.clear();
  return true;
}

absl::Status PbsCredentials::LoginLocked(absl::Time deadline) {
  const std::string body = absl::StrCat("username=", PercentEncodeComponent(auth_id_),
                                        "&password=", PercentEncodeComponent(secret_));
  const std::string request = absl::StrCat(
      "POST /api2/json/access/ticket HTTP/1.1\r\nHost: ", host_header_,
      "\r\nUser-Agent: chunkcache/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: ",
      body.size(), "\r\nConnection: close\r\n\r\n", body);
  absl::StatusOr<Http1Response> response = send_(request, deadline);
  if (!response.ok()) {
    return absl::Status(response.status().code(), absl::StrCat("logging in as ", auth_id_, ": ",
                                                               response.status().message()));
  }
  if (response->status == 401 || response->status == 403) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server refused the password of ", auth_id_, " (HTTP ", response->status,
                     "); check the secret file or environment variable"));
  }
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("logging in as ", auth_id_, ": HTTP ",
                                               response->status, ": ",
                                               response->body.substr(0, 200)));
  }
  const nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded() || !json.contains("data") || !json["data"].is_object() ||
      !json["data"].contains("ticket") || !json["data"]["ticket"].is_string()) {
    return absl::UnavailableError(
        absl::StrCat("logging in as ", auth_id_, ": the answer holds no ticket"));
  }
  const std::string ticket = json["data"]["ticket"].get<std::string>();
  std::string lines =
      absl::StrCat("Cookie: PBSAuthCookie=", PercentEncodeDefaultSet(ticket), "\r\n");
  if (json["data"].contains("CSRFPreventionToken") &&
      json["data"]["CSRFPreventionToken"].is_string()) {
    absl::StrAppend(&lines,
                    "CSRFPreventionToken: ", json["data"]["CSRFPreventionToken"].get<std::string>(),
                    "\r\n");
  }
  ticket_lines_ = std::move(lines);
  ticket_time_ = absl::Now();
  if (counters_ != nullptr) counters_->logins.fetch_add(1);
  return absl::OkStatus();
}

}  // namespace chunkcache
