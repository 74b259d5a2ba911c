// One HTTP/1.1 request and its response over a TlsStream: the API calls (ticket login,
// version, snapshot listing) and the reader upgrade (spec §3), whose 101 answer is followed by
// HTTP/2 on the same stream: the bytes read past the 101 header block are returned in
// `leftover` for the h2 layer.
//
//   absl::StatusOr<Http1Response> response = Http1Exchange(
//       *stream, "GET /api2/json/version HTTP/1.1\r\nHost: pbs\r\n...\r\n\r\n", deadline);
//   if (response->status == 101) { /* hand response->leftover to HTTP/2 */ }
#ifndef CHUNKCACHE_UPSTREAM_PBS_HTTP1_EXCHANGE_H_
#define CHUNKCACHE_UPSTREAM_PBS_HTTP1_EXCHANGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/pbs/tls_stream.h"

namespace chunkcache {

inline constexpr size_t kMaxHttp1BodyBytes = 64 << 20;  // snapshot listings of big datastores

struct Http1Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // empty for 101
  std::string leftover;  // 101 only: bytes after the header block (HTTP/2 already)

  // The first header named `name` (lower case), or "".
  std::string Header(std::string_view name) const;
};

// Writes `request` (head and body, complete) and reads the response: the head, then, unless
// the status is 101, the body (Content-Length, chunked, or up to the end of the stream).
// UNAVAILABLE for a broken connection or a malformed answer, DEADLINE_EXCEEDED after
// `deadline`.
absl::StatusOr<Http1Response> Http1Exchange(TlsStream& stream, std::string_view request,
                                            absl::Time deadline);

// `text` percent-encoded: every byte outside [A-Za-z0-9-._~] (a form value or query value).
std::string PercentEncodeComponent(std::string_view text);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_PBS_HTTP1_EXCHANGE_H_
