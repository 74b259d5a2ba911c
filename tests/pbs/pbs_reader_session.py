"""One reader session of the test PBS server: the HTTP/2 server side of an upgraded TLS
connection, bound to one snapshot (pbs-reader-protocol.md §4).

Every request runs in its own asyncio task, so a slow, delayed or hung stream never holds up
the others. Bodies go out in DATA frames no larger than the peer's SETTINGS_MAX_FRAME_SIZE and
its stream and connection windows; a stream with no window waits for WINDOW_UPDATE.
SETTINGS_MAX_CONCURRENT_STREAMS is advertised, and a stream beyond it is refused with
RST_STREAM(REFUSED_STREAM) as hyper does (python-h2 alone would drop the whole connection).

    session = ReaderSession(server, reader, writer, datastore, snapshot_dir, max_streams=200)
    await session.run(prefix=response_bytes(101, ...))   # until the connection ends
"""

import asyncio
import email.utils
import json
import logging
import socket
import struct
import urllib.parse

import h2.config
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

from pbs_faults import BandwidthPacer
from pbs_h2_output import SegmentedOutputConnection
from pbs_datastore import (DIGEST_HEX, SAFE_ID, IndexFormatError, index_digests,
                           os_error_text, quoted_path)

log = logging.getLogger("pbs_test_server")

WINDOW_SIZE = 32 * 1024 * 1024  # hyper's stream and connection windows in PBS 4
MAX_FRAME_SIZE = 4 * 1024 * 1024  # what PBS accepts and the PBS client asks for
MAX_HEADER_LIST_SIZE = 16 * 1024
# Body bytes one stream queues per turn (one 4 MiB frame, or many frames of a peer that keeps
# the 16 KiB default): written and encrypted in one go rather than frame by frame.
MAX_BYTES_PER_TURN = 4 * 1024 * 1024
# Bytes handed to the TLS transport per write call (see _flush).
WRITE_SLICE = 256 * 1024
SPEEDTEST_BODY = b"A" * (1024 * 1024)
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
OCTET_STREAM = "application/octet-stream"


class _AdvertisedStreamLimit(h2.settings.Settings):
    """Local settings whose MAX_CONCURRENT_STREAMS is advertised but not enforced by h2.

    python-h2 answers a stream over its limit by tearing down the connection; the session
    enforces the limit itself and refuses only the extra stream."""

    @property
    def max_concurrent_streams(self):
        return 2**31 - 1


class _ConnectionGone(Exception):
    """The session's connection ended (peer close, drop fault, GOAWAY close) mid-response."""


class _HandlerError(Exception):
    """An answer other than 200: status, plain-text body, and whether it is labelled JSON."""

    def __init__(self, status, message, json_labelled=True):
        super().__init__(message)
        self.status = status
        self.json_labelled = json_labelled


def _parameter_error(problems):
    """A schema error as H2Service answers it: 400, plain text, no content-type."""
    lines = "".join(f"parameter '{name}': {problem}\n" for name, problem in problems)
    return _HandlerError(400, f"parameter verification errors\n\n{lines}", json_labelled=False)


def _parse_parameters(query, required, optional=()):
    """The query parameters as a dict, checked against the names a method accepts."""
    values, problems = {}, []
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if name == "_dc":
            continue
        if name not in required and name not in optional:
            problems.append((name, "schema does not allow additional properties."))
        elif name in values:
            problems.append((name, "duplicate parameter."))
        else:
            values[name] = value
    for name in required:
        if name not in values:
            problems.append((name, "parameter is missing and it is not optional."))
    if problems:
        raise _parameter_error(problems)
    return values


class ReaderSession:
    def __init__(self, server, reader, writer, datastore, snapshot_dir, max_streams):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.datastore = datastore
        self.snapshot_dir = snapshot_dir
        self.max_streams = max_streams
        self.allowed_digests = set()
        self.stream_tasks = {}  # stream id -> task answering it
        self.open_streams = set()  # streams whose END_STREAM or RST_STREAM is not yet sent
        self.open_chunk_streams = set()
        self.goaway_sent = False
        self.goaway_last_stream_id = 0
        self.gone = False
        self._window_opened = asyncio.Event()
        self._send_turn = asyncio.Lock()
        self._stream_pacers = {}

        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = SegmentedOutputConnection(config=config)
        self.conn.local_settings = _AdvertisedStreamLimit(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW_SIZE,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
            })
        # python-h2 raises its accepted frame size only when a SETTINGS *change* is ACKed;
        # these settings are the initial ones, so set it by hand (spec §9).
        self.conn.max_inbound_frame_size = MAX_FRAME_SIZE

    # ---- connection ----------------------------------------------------------------------

    async def run(self, prefix=b""):
        """Serve the session until the connection ends. `prefix` (the 101 answer) goes out in
        the same write as the server's SETTINGS."""
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(WINDOW_SIZE - 65535)
        self.writer.write(prefix + self.conn.data_to_send())
        try:
            while not self.gone:
                data = await self.reader.read(256 * 1024)
                if not data:
                    break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError as e:
                    log.info("session %s: HTTP/2 protocol error from the client: %s",
                             self.snapshot_dir, e)
                    self._flush()
                    break
                for event in events:
                    self._on_event(event)
                self._flush()
        except (ConnectionError, OSError):
            pass
        finally:
            await self._shut_down()

    def _on_event(self, event):
        if isinstance(event, h2.events.RequestReceived):
            self._on_request(event.stream_id, dict(event.headers))
        elif isinstance(event, h2.events.StreamReset):
            self._forget_stream(event.stream_id)
            task = self.stream_tasks.get(event.stream_id)
            if task:
                task.cancel()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._wake_senders()
        elif isinstance(event, h2.events.DataReceived):
            # Requests carry no body; keep the windows open anyway.
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.gone = True

    def _flush(self):
        segments = self.conn.take_output()
        if not segments or self.writer.is_closing():
            return
        # asyncio's TLS transport encrypts everything of one write call into a memory BIO and
        # only then moves it to the socket (copying what the socket does not take at once):
        # written whole, a 4 MiB body is held, and copied, twice more in 4 MiB buffers. In
        # slices of WRITE_SLICE those buffers stay small and are reused.
        group, group_bytes = [], 0
        for segment in segments:
            view = memoryview(segment)
            for start in range(0, len(view), WRITE_SLICE):
                piece = view[start:start + WRITE_SLICE]
                group.append(piece)
                group_bytes += len(piece)
                if group_bytes >= WRITE_SLICE:
                    self.writer.writelines(group)
                    group, group_bytes = [], 0
        if group:
            self.writer.writelines(group)

    def _wake_senders(self):
        self._window_opened.set()
        self._window_opened = asyncio.Event()

    async def _shut_down(self):
        self.gone = True
        self._wake_senders()
        tasks = list(self.stream_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.close_connection()

    def close_connection(self, reset=False):
        """Close without GOAWAY: a TLS close_notify and FIN, or with `reset` a TCP RST."""
        self.gone = True
        self._wake_senders()
        transport = self.writer.transport
        if transport.is_closing() and not reset:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                except OSError:
                    pass
            transport.abort()
            return
        transport.close()
        # A peer that never answers close_notify must not keep the socket open.
        asyncio.get_running_loop().call_later(2.0, transport.abort)

    def send_goaway(self):
        """GOAWAY(NO_ERROR) naming the last stream this session will answer; the connection
        closes once those streams are done. python-h2 refuses to send DATA after its own
        close_connection(), so the frame is written beside it."""
        if self.goaway_sent or self.gone:
            return
        self._flush()
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = self.conn.highest_inbound_stream_id
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        self.goaway_sent = True
        self.goaway_last_stream_id = frame.last_stream_id
        self.writer.write(frame.serialize())
        if not self.open_streams:
            self.close_connection()

    # ---- streams -------------------------------------------------------------------------

    def _on_request(self, stream_id, headers):
        stats = self.server.stats
        if self.goaway_sent and stream_id > self.goaway_last_stream_id:
            return  # after GOAWAY, later streams are ignored (RFC 9113 §6.8)
        if len(self.open_streams) >= self.max_streams:
            stats.streams_refused += 1
            self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        self.open_streams.add(stream_id)
        task = asyncio.get_running_loop().create_task(self._serve_stream(stream_id, headers))
        self.stream_tasks[stream_id] = task

    def _forget_stream(self, stream_id):
        self.open_streams.discard(stream_id)
        self.open_chunk_streams.discard(stream_id)
        self._stream_pacers.pop(stream_id, None)
        if self.goaway_sent and not self.open_streams:
            self.close_connection()

    async def _serve_stream(self, stream_id, headers):
        try:
            await self._route(stream_id, headers)
        except _HandlerError as e:
            await self._respond_error(stream_id, e)
        except (asyncio.CancelledError, _ConnectionGone, h2.exceptions.StreamClosedError):
            pass
        except Exception:
            log.exception("session %s: stream %d failed", self.snapshot_dir, stream_id)
            self._reset(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        finally:
            self.stream_tasks.pop(stream_id, None)
            self._forget_stream(stream_id)

    async def _respond_error(self, stream_id, error):
        try:
            await self._respond(stream_id, error.status, str(error).encode(),
                                JSON_CONTENT_TYPE if error.json_labelled else None)
        except (_ConnectionGone, h2.exceptions.StreamClosedError):
            pass

    async def _route(self, stream_id, headers):
        method = headers.get(":method", "")
        path, _, query = headers.get(":path", "").partition("?")
        components = [c for c in path.split("/") if c]
        if any(c.startswith(".") for c in components):
            raise _HandlerError(400, f"Path '{path}' is not valid.")
        route = "/".join(components)
        if method != "GET" or route not in ("", "download", "chunk", "speedtest"):
            raise _HandlerError(404, f"Path '{path}' not found.")
        if route == "download":
            await self._download(stream_id, _parse_parameters(query, ("file-name",)))
        elif route == "chunk":
            await self._chunk(stream_id, query)
        elif route == "speedtest":
            _parse_parameters(query, ())
            await self._respond(stream_id, 200, SPEEDTEST_BODY, OCTET_STREAM)
        else:
            _parse_parameters(query, ())
            listing = {"data": [{"subdir": s} for s in ("chunk", "download", "speedtest")]}
            await self._respond(stream_id, 200, json.dumps(listing).encode(),
                                JSON_CONTENT_TYPE)

    async def _download(self, stream_id, params):
        name = params["file-name"]
        if not SAFE_ID.match(name):
            raise _parameter_error([("file-name", "value does not match the regex pattern")])
        path = f"{self.snapshot_dir}/{name}"
        kind = {"fidx": "fixed", "didx": "dynamic"}.get(name.rsplit(".", 1)[-1])
        if kind is None and not name.endswith(".blob"):
            raise _HandlerError(400, f'unknown archive type: "{name}"')
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, _read_file, path)
        except OSError as e:
            if kind:
                raise _HandlerError(
                    400, f"Unable to open {kind} index {quoted_path(path)} - {os_error_text(e)}")
            if isinstance(e, FileNotFoundError):
                raise _HandlerError(404, f"open file {quoted_path(path)} failed - not found")
            raise _HandlerError(400, f"open file {quoted_path(path)} failed - {os_error_text(e)}")
        if kind:
            try:
                digests = index_digests(data)
            except IndexFormatError as e:
                raise _HandlerError(400, f"Unable to open {kind} index {quoted_path(path)} - {e}")
            # Registered before the answer goes out, as upstream's download_file does.
            self.allowed_digests.update(digests)
        self.server.stats.downloads[name] += 1
        # A file stream upstream, so no content-length: the client reads to END_STREAM.
        await self._respond(stream_id, 200, data, OCTET_STREAM, content_length=False)

    async def _chunk(self, stream_id, query):
        server, stats, faults = self.server, self.server.stats, self.server.faults
        stats.chunk_requests += 1
        params = _parse_parameters(query, ("digest",))
        digest = params["digest"]
        if not DIGEST_HEX.match(digest):
            raise _parameter_error([("digest", "value does not match the regex pattern")])
        stats.chunk_requests_by_digest[digest] += 1
        self.open_chunk_streams.add(stream_id)
        stats.max_streams_in_flight = max(stats.max_streams_in_flight,
                                          len(self.open_chunk_streams))
        await faults.wait_unless_hanging()
        if faults.chunk_latency_ms:
            await asyncio.sleep(faults.chunk_latency_ms / 1000)
        if digest not in self.allowed_digests:
            stats.chunk_401 += 1
            await server.unauthorized_delay()
            raise _HandlerError(401, f"download chunk {digest} not allowed")
        path = self.datastore.chunk_path(digest)
        try:
            if digest in faults.missing_chunks:
                raise FileNotFoundError(2, "No such file or directory")
            data = await asyncio.get_running_loop().run_in_executor(None, _read_file, path)
        except OSError as e:
            stats.chunk_400 += 1
            log.info("session %s: chunk %s unreadable: %s", self.snapshot_dir, digest, e)
            raise _HandlerError(400, f"reading file {quoted_path(path)} failed: "
                                f"{os_error_text(e)}")
        if digest in faults.corrupt_chunks and data:
            data = _flip_one_byte(data)
        reset_halfway = faults.take_rst()
        await self._respond(stream_id, 200, data, OCTET_STREAM, reset_halfway=reset_halfway)
        if reset_halfway:
            return
        stats.chunk_200 += 1
        stats.chunk_bytes += len(data)
        for action in faults.chunk_served():
            log.info("session %s: fault %s after a chunk", self.snapshot_dir, action)
            if action == "goaway":
                self.send_goaway()
            else:
                self._flush()
                self.close_connection(reset=(action == "reset"))

    # ---- sending -------------------------------------------------------------------------

    def _check_alive(self):
        if self.gone:
            raise _ConnectionGone()

    def _reset(self, stream_id, code):
        try:
            self.conn.reset_stream(stream_id, code)
            self._flush()
        except h2.exceptions.ProtocolError:
            pass

    async def _respond(self, stream_id, status, body, content_type, content_length=True,
                       reset_halfway=False):
        self._check_alive()
        headers = [(":status", str(status))]
        if content_type:
            headers.append(("content-type", content_type))
        if content_length:
            headers.append(("content-length", str(len(body))))
        headers.append(("date", email.utils.formatdate(usegmt=True)))
        self.conn.send_headers(stream_id, headers, end_stream=not body)
        self._flush()
        if not body:
            self._forget_stream(stream_id)
        if reset_halfway:
            # Like an I/O error in the middle of a body upstream: part of it, then RST_STREAM.
            await self._send_body(stream_id, memoryview(body)[:len(body) // 2], last=False)
            self._reset(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            self._forget_stream(stream_id)
        elif body:
            await self._send_body(stream_id, memoryview(body), last=True)

    async def _send_body(self, stream_id, view, last):
        offset = 0
        while offset < len(view):
            allowance = await self._send_allowance(stream_id, len(view) - offset)
            async with self._send_turn:
                # Queue more only once the socket has taken the earlier bytes: the buffer
                # stays near one turn's worth however many streams send, and they take turns.
                try:
                    await self.writer.drain()
                except (ConnectionError, OSError):
                    raise _ConnectionGone()
                self._check_alive()
                # Other streams may have used the connection window in the meantime.
                turn_end = offset + min(allowance, self.conn.local_flow_control_window(stream_id))
                while offset < turn_end:
                    size = min(self.conn.max_outbound_frame_size, turn_end - offset)
                    end = last and offset + size == len(view)
                    self.conn.send_data(stream_id, view[offset:offset + size], end_stream=end)
                    offset += size
                self._flush()
        if last:
            # Closed for the stream limit (and a pending GOAWAY close) once END_STREAM is
            # written, not when the peer has read it.
            self._forget_stream(stream_id)

    async def _send_allowance(self, stream_id, remaining):
        """How many body bytes the stream may queue in its next turn (as DATA frames of the
        peer's maximum size): waits for flow-control window and, with a bandwidth fault, for
        the bytes' slot on the paced link."""
        while True:
            self._check_alive()
            window = self.conn.local_flow_control_window(stream_id)
            if window > 0:
                break
            await self._window_opened.wait()
        size = min(window, remaining, MAX_BYTES_PER_TURN)
        faults = self.server.faults
        link_rate = faults.bandwidth_bytes_per_s
        stream_rate = faults.stream_bandwidth_bytes_per_s
        if link_rate or stream_rate:
            size = min(size, BandwidthPacer.slice_bytes(
                min(r for r in (link_rate, stream_rate) if r)))
            if stream_rate:
                pacer = self._stream_pacers.setdefault(stream_id, BandwidthPacer())
                await pacer.pace(size, stream_rate)
            await self.server.pacer.pace(size, link_rate)
        return size


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def _flip_one_byte(data):
    """The blob with one payload byte inverted (the CRC byte if there is no payload)."""
    position = len(data) - 1 if len(data) > 12 else min(8, len(data) - 1)
    corrupted = bytearray(data)
    corrupted[position] ^= 0xFF
    return bytes(corrupted)
