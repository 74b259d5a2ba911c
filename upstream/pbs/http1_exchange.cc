#include "upstream/pbs/http1_exchange.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr size_t kMaxHeadBytes = 64 << 10;

absl::Status Malformed(const TlsStream& stream, std::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(stream.peer(), " sent a malformed HTTP/1.1 answer: ", ToAbsl(what)));
}

// Reads more bytes into `buffer`; false at the end of the stream.
absl::StatusOr<bool> ReadMore(TlsStream& stream, std::string& buffer, absl::Time deadline) {
  char chunk[16384];
  absl::StatusOr<size_t> got = stream.ReadSome(chunk, sizeof(chunk), deadline);
  if (!got.ok()) return got.status();
  buffer.append(chunk, *got);
  return *got > 0;
}

// Decodes a chunked body from `buffer` (reading more as needed) into `body`.
absl::Status ReadChunkedBody(TlsStream& stream, std::string& buffer, std::string& body,
                             absl::Time deadline) {
  size_t pos = 0;
  while (true) {
    size_t line_end;
    while ((line_end = buffer.find("\r\n", pos)) == std::string::npos) {
      absl::StatusOr<bool> more = ReadMore(stream, buffer, deadline);
      if (!more.ok()) return more.status();
      if (!*more) return Malformed(stream, "chunked body ends early");
    }
    std::string_view size_text = std::string_view(buffer).substr(pos, line_end - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(ToAbsl(size_text), &size) || size > kMaxHttp1BodyBytes) {
      return Malformed(stream, "bad chunk size");
    }
    pos = line_end + 2;
    if (size == 0) return absl::OkStatus();  // trailers, if any, are not read
    while (buffer.size() < pos + size + 2) {
      absl::StatusOr<bool> more = ReadMore(stream, buffer, deadline);
      if (!more.ok()) return more.status();
      if (!*more) return Malformed(stream, "chunked body ends early");
    }
    body.append(buffer, pos, size);
    if (body.size() > kMaxHttp1BodyBytes) return Malformed(stream, "body too large");
    pos += size + 2;
  }
}

}  // namespace

std::string Http1Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

std::string PercentEncodeComponent(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

absl::StatusOr<Http1Response> Http1Exchange(TlsStream& stream, std::string_view request,
                                            absl::Time deadline) {
  if (absl::Status written = stream.WriteAll(request, deadline); !written.ok()) return written;
  std::string buffer;
  size_t head_end;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > kMaxHeadBytes) return Malformed(stream, "header block too large");
    absl::StatusOr<bool> more = ReadMore(stream, buffer, deadline);
    if (!more.ok()) return more.status();
    if (!*more) {
      return absl::UnavailableError(
          absl::StrCat(stream.peer(), " closed the connection before answering"));
    }
  }
  Http1Response response;
  std::vector<std::string_view> lines;
  const std::string_view head = std::string_view(buffer).substr(0, head_end);
  for (size_t start = 0; start <= head.size();) {
    const size_t end = std::min(head.find("\r\n", start), head.size());
    lines.push_back(head.substr(start, end - start));
    start = end + 2;
  }
  // "HTTP/1.1 101 Switching Protocols"
  const std::string_view status_line = lines[0];
  const size_t space = status_line.find(' ');
  const std::string_view code =
      space == std::string_view::npos ? "" : status_line.substr(space + 1, 3);
  if (!status_line.starts_with("HTTP/1.") || !absl::SimpleAtoi(ToAbsl(code), &response.status) ||
      response.status < 100 || response.status > 999) {
    return Malformed(stream, "bad status line");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos) return Malformed(stream, "header without ':'");
    response.headers.emplace_back(
        absl::AsciiStrToLower(ToAbsl(lines[i].substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(ToAbsl(lines[i].substr(colon + 1)))));
  }
  buffer.erase(0, head_end + 4);
  if (response.status == 101) {
    response.leftover = std::move(buffer);
    return response;
  }
  if (absl::AsciiStrToLower(response.Header("transfer-encoding")).find("chunked") !=
      std::string::npos) {
    if (absl::Status read = ReadChunkedBody(stream, buffer, response.body, deadline); !read.ok()) {
      return read;
    }
    return response;
  }
  const std::string length_text = response.Header("content-length");
  if (!length_text.empty()) {
    uint64_t length = 0;
    if (!absl::SimpleAtoi(length_text, &length) || length > kMaxHttp1BodyBytes) {
      return Malformed(stream, "bad Content-Length");
    }
    while (buffer.size() < length) {
      absl::StatusOr<bool> more = ReadMore(stream, buffer, deadline);
      if (!more.ok()) return more.status();
      if (!*more) return Malformed(stream, "body shorter than Content-Length");
    }
    buffer.resize(length);
    response.body = std::move(buffer);
    return response;
  }
  if (response.status == 204 || response.status == 304) return response;
  while (true) {  // Connection: close: the body runs to the end of the stream
    if (buffer.size() > kMaxHttp1BodyBytes) return Malformed(stream, "body too large");
    absl::StatusOr<bool> more = ReadMore(stream, buffer, deadline);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  response.body = std::move(buffer);
  return response;
}

}  // namespace chunkcache
