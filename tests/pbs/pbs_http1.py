"""A minimal HTTP/1.1 server side over asyncio streams: request heads, bodies with
Content-Length, and whole responses. Shared by the test PBS server's TLS port (API calls and
the reader upgrade) and its plain control port.

The reader keeps whatever follows a request head in the StreamReader's buffer, so after an
upgrade the HTTP/2 layer reads the very next byte the client sent.

    request = await read_request(reader, writer)   # None at a clean end of the connection
    writer.write(response_bytes(200, b"{}", content_type="application/json"))
"""

import asyncio
import email.utils
import http
import urllib.parse

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024


class BadRequest(Exception):
    """A request this server cannot parse; answered with `status` and the connection closed."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Request:
    """One parsed request. Header names are lower-case; repeated headers are joined by ", "."""

    def __init__(self, method, target, version, headers, body=b""):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.path, _, self.query = target.partition("?")

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def query_pairs(self):
        """The query as (name, value) pairs, percent- and plus-decoded, blanks kept."""
        return urllib.parse.parse_qsl(self.query, keep_blank_values=True)

    def wants_close(self):
        tokens = [t.strip().lower() for t in self.header("connection", "").split(",")]
        return "close" in tokens or self.version == "HTTP/1.0"


async def read_request(reader, writer):
    """The next request on the connection, or None if the peer closed it between requests.
    A client that waits for `100 Continue` before its body (curl does for bodies over 1 KiB)
    gets it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise BadRequest(400, "incomplete request head")
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request head too large")
    if len(head) > MAX_HEAD_BYTES:
        raise BadRequest(431, "request head too large")
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "malformed header line")
        name = name.lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest(400, "bad content-length")
    if length < 0 or length > MAX_BODY_BYTES:
        raise BadRequest(413, "request body too large")
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, version, headers, body)


def response_bytes(status, body=b"", content_type=None, headers=(), close=False,
                   content_length=True):
    """A whole response: status line, headers (lower-case names, as hyper writes them), body."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
    if content_type:
        lines.append(f"content-type: {content_type}")
    if content_length:
        lines.append(f"content-length: {len(body)}")
    if close:
        lines.append("connection: close")
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"date: {email.utils.formatdate(usegmt=True)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
