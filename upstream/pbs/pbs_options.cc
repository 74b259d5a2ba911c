#include "upstream/pbs/pbs_options.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": ", ToAbsl(problem)));
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

}  // namespace

std::string PbsEndpoint::HostPort() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<PbsEndpoint> ParsePbsUrl(std::string_view url, std::string_view field) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return Invalid(field, "expected https://HOST[:PORT] (the reader protocol runs over TLS)");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return Invalid(field, "expected https://HOST[:PORT] without a path, query or user");
  }
  PbsEndpoint endpoint;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Invalid(field, "unterminated [IPv6 address]");
    endpoint.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return Invalid(field, "expected :PORT after ]");
      port_text = after.substr(1);
    }
    if (endpoint.host.empty() ||
        endpoint.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return Invalid(field, "bad IPv6 address");
    }
  } else {
    const size_t colon = rest.rfind(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
    if (endpoint.host.empty()) return Invalid(field, "no host");
    for (char c : endpoint.host) {
      if (!IsHostChar(c)) return Invalid(field, "bad host name");
    }
  }
  if (!port_text.empty() || rest.ends_with(':')) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(ToAbsl(port_text), &port) || port == 0 || port > 65535) {
      return Invalid(field, "bad port");
    }
    endpoint.port = static_cast<uint16_t>(port);
  }
  return endpoint;
}

absl::StatusOr<std::string> NormalizeFingerprint(std::string_view fingerprint,
                                                 std::string_view field) {
  std::string hex;
  for (char c : fingerprint) {
    if (c == ':') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) {
      return Invalid(field, "expected the SHA-256 fingerprint as 32 hex pairs (aa:bb:...)");
    }
    hex.push_back(absl::ascii_tolower(c));
  }
  if (hex.size() != 64) {
    return Invalid(field, "expected the SHA-256 fingerprint as 32 hex pairs (aa:bb:...)");
  }
  std::string canonical;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) canonical.push_back(':');
    canonical.append(hex, i, 2);
  }
  return canonical;
}

absl::Status ValidatePbsAuthId(std::string_view auth_id, std::string_view field) {
  // PBS: user name and realm of [A-Za-z0-9._-] (user names allow more, but never '@', '!',
  // ':', white space or control characters, which would break the header or the cookie).
  const size_t at = auth_id.find('@');
  const size_t bang = auth_id.find('!');
  const bool shaped =
      at != std::string_view::npos && at > 0 && at + 1 < auth_id.size() &&
      (bang == std::string_view::npos || (bang > at + 1 && bang + 1 < auth_id.size()));
  bool clean = true;
  for (char c : auth_id) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':' || c == '"' || c == ';' || c == ',') clean = false;
  }
  if (!shaped || !clean || auth_id.find('@', at + 1) != std::string_view::npos ||
      (bang != std::string_view::npos && auth_id.find('!', bang + 1) != std::string_view::npos)) {
    return Invalid(field, "expected user@realm (password) or user@realm!token (API token)");
  }
  return absl::OkStatus();
}

absl::Status ValidatePbsUpstreamOptions(const PbsUpstreamOptions& options) {
  if (absl::StatusOr<PbsEndpoint> endpoint = ParsePbsUrl(options.url, "url"); !endpoint.ok()) {
    return endpoint.status();
  }
  // PBS datastore names are SAFE_IDs; the name goes into a URL path and query unescaped.
  bool store_ok = !options.datastore.empty() && options.datastore.size() <= 64 &&
                  options.datastore.front() != '.' && options.datastore.front() != '-';
  for (char c : options.datastore) {
    store_ok = store_ok && (IsHostChar(c) || c == '-');
  }
  if (!store_ok)
    return Invalid("datastore", "not a PBS datastore name ([A-Za-z0-9_][A-Za-z0-9._-]*)");
  if (absl::Status auth = ValidatePbsAuthId(options.auth_id, "auth_id"); !auth.ok()) return auth;
  if (options.secret.empty()) return Invalid("secret", "empty (the token secret or password)");
  if (!options.fingerprint.empty()) {
    absl::StatusOr<std::string> fp = NormalizeFingerprint(options.fingerprint, "fingerprint");
    if (!fp.ok()) return fp.status();
  }
  if (options.timeout <= absl::ZeroDuration()) return Invalid("timeout", "must be positive");
  if (options.max_streams < 1 || options.max_streams > 1000) {
    return Invalid("max_streams", "must be 1..1000");
  }
  if (options.max_sessions < 1 || options.max_sessions > 1000) {
    return Invalid("max_sessions", "must be 1..1000");
  }
  return absl::OkStatus();
}

}  // namespace chunkcache
