"""Independent clients of the test PBS server, for its self-test: the server as a process
(its HTTP/1.1 API and control port through curl), and a reader-session client written from
pbs-reader-protocol.md with Python's ssl and python-h2.

    server = ServerProcess(scratch, cert, key, {"store1": "/tmp/ds"}, ["--token", "u@pbs!t:s"])
    client = ReaderClient(server, {"store": "store1", ...}, {"Authorization": "PBSAPIToken ..."})
    index = client.get("/download?file-name=drive-scsi0.img.fidx")   # a Response
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.settings
import hyperframe.frame

from pbs_test_datastore_writer import read_file

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "pbs_test_server.py")
IO_TIMEOUT = 30.0
READER_PROTOCOL = "proxmox-backup-reader-protocol-v1"

# python-h2 formats every received frame for its trace log even when nothing logs, and the
# formatting hex-encodes the whole DATA payload: with 4 MiB frames that dominates the client.
hyperframe.frame._raw_data_repr = lambda data: f"<{len(data or b'')} bytes>"


def make_certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class ServerProcess:
    """pbs_test_server.py started for a test, its ports read from the files it writes."""

    def __init__(self, scratch, cert, key, datastores, credentials=(), extra_args=()):
        self.cert = cert
        self.directory = tempfile.mkdtemp(dir=scratch, prefix="server-")
        port_file = os.path.join(self.directory, "port")
        control_file = os.path.join(self.directory, "control-port")
        self.log_path = os.path.join(self.directory, "server.log")
        listen = "127.0.0.1:0"
        if "--listen" in extra_args:
            listen = extra_args[extra_args.index("--listen") + 1]
            extra_args = [a for a in extra_args if a not in ("--listen", listen)]
        command = ["/usr/bin/python3", SERVER, "--listen", listen, "--port-file",
                   port_file, "--control-port-file", control_file, "--cert", cert, "--key", key,
                   *credentials, *extra_args]
        for name, path in datastores.items():
            command += ["--datastore", f"{name}={path}"]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"test PBS server did not start:\n{self.log()}")
            time.sleep(0.05)
        self.port = int(read_file(port_file))
        self.control_port = int(read_file(control_file))

    def log(self):
        return read_file(self.log_path).decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # The HTTP/1.1 parts go through curl.
    def curl(self, path, *options, method=None):
        """(status, headers dict, body) of an HTTPS call to the server's API port."""
        command = ["curl", "-sS", "--max-time", str(IO_TIMEOUT), "--cacert", self.cert,
                   "--resolve", f"localhost:{self.port}:127.0.0.1", "-D", "-",
                   f"https://localhost:{self.port}{path}", *options]
        if method:
            command[1:1] = ["-X", method]
        result = subprocess.run(command, capture_output=True, check=True, timeout=IO_TIMEOUT + 5)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split(" ")[1]), headers, body

    def control(self, method, path, body=None):
        command = ["curl", "-sS", "--fail-with-body", "--max-time", str(IO_TIMEOUT), "-X", method,
                   f"http://127.0.0.1:{self.control_port}{path}"]
        if body is not None:
            command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        result = subprocess.run(command, capture_output=True, timeout=IO_TIMEOUT + 5)
        if result.returncode != 0:
            raise AssertionError(f"control {method} {path} failed: {result.stdout!r}")
        return json.loads(result.stdout)

    def faults(self, **knobs):
        return self.control("POST", "/faults", knobs)

    def stats(self):
        return self.control("GET", "/stats")


class UpgradeRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"upgrade answered {status}: {body!r}")
        self.status, self.headers, self.body = status, headers, body


class Response:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = bytearray()
        self.ended = False
        self.reset_code = None
        self.frame_sizes = []

    @property
    def done(self):
        return self.ended or self.reset_code is not None


def tls_connect(port, cafile, alpn=None):
    context = ssl.create_default_context(cafile=cafile)
    if alpn:
        context.set_alpn_protocols(alpn)
    sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    return context.wrap_socket(sock, server_hostname="localhost")


def read_http1_answer(tls):
    """(status, headers, body, bytes after the answer) of one HTTP/1.1 answer."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = tls.recv(65536)
        if not data:
            raise ConnectionError(f"connection closed before an answer: {buffer!r}")
        buffer += data
    head, rest = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(lines[0].split(" ")[1])
    if status == 101:
        return status, headers, b"", rest
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = tls.recv(65536)
        if not data:
            break
        rest += data
    return status, headers, rest[:length], rest[length:]


class ReaderClient:
    """The client side of one reader session, written from the spec: the upgrade GET with the
    HTTP/2 preface in the same write, then python-h2 as the client on the same TLS stream."""

    def __init__(self, server, query, headers=None, window=2**31 - 2,
                 max_frame=4 * 1024 * 1024):
        self.tls = tls_connect(server.port, server.cert)
        self.responses = {}
        self.server_settings = {}
        self.goaway = None
        self.closed = False
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        # python-h2 refuses every frame after a GOAWAY, but the streams up to its
        # last_stream_id still get their answers (RFC 9113 §6.8): stay open on GOAWAY.
        machine = self.conn.state_machine
        machine._transitions = {**machine._transitions, (
            h2.connection.ConnectionState.CLIENT_OPEN, h2.connection.ConnectionInputs.RECV_GOAWAY):
            (None, h2.connection.ConnectionState.CLIENT_OPEN)}
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: max_frame,
            h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.conn.max_inbound_frame_size = max_frame
        self.conn.initiate_connection()
        if window > 65535:
            self.conn.increment_flow_control_window(window - 65535)
        lines = [f"GET /api2/json/reader?{urllib.parse.urlencode(query)} HTTP/1.1",
                 f"Host: localhost:{server.port}", "User-Agent: proxmox-backup-client/1.0",
                 "Content-Type: application/x-www-form-urlencoded",
                 "Connection: upgrade", f"Upgrade: {READER_PROTOCOL}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        # The preface rides along with the upgrade request: the server must keep those bytes.
        self.tls.sendall(request + self.conn.data_to_send())
        status, answer_headers, body, self.bytes_after_101 = read_http1_answer(self.tls)
        if status != 101:
            self.tls.close()
            raise UpgradeRefused(status, answer_headers, body)
        self.upgrade_headers = answer_headers
        self._feed(self.bytes_after_101)

    def close(self):
        self.tls.close()

    def send(self, path):
        return self.send_many([path])[0]

    def send_many(self, paths):
        """Opens one stream per path, all in one write."""
        stream_ids = []
        for path in paths:
            stream_id = self.conn.get_next_available_stream_id()
            self.conn.send_headers(stream_id, [
                (":method", "GET"), (":scheme", "https"), (":authority", "localhost:8007"),
                (":path", path), ("user-agent", "proxmox-backup-client/1.0"),
                ("content-type", "application/x-www-form-urlencoded")], end_stream=True)
            self.responses[stream_id] = Response()
            stream_ids.append(stream_id)
        self._flush()
        return stream_ids

    def wait(self, stream_ids, until_closed=False):
        """Reads until the streams are done (or the connection is closed)."""
        deadline = time.monotonic() + IO_TIMEOUT
        while not self.closed and (until_closed or
                                   not all(self.responses[s].done for s in stream_ids)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"streams {stream_ids} not done")
            self.pump()
        return [self.responses[s] for s in stream_ids]

    def get(self, path):
        return self.wait([self.send(path)])[0]

    def pump(self, timeout=IO_TIMEOUT):
        """Waits for bytes, then takes all that are ready (an SSL socket's recv returns one
        TLS record at most, and feeding python-h2 16 KiB at a time is slow for 4 MiB frames)."""
        self.tls.settimeout(timeout)
        try:
            pieces = [self.tls.recv(1024 * 1024)]
        except (ConnectionResetError, ssl.SSLError):
            pieces = [b""]
        self.tls.setblocking(False)
        try:
            while pieces[-1] and sum(map(len, pieces)) < 8 * 1024 * 1024:
                pieces.append(self.tls.recv(1024 * 1024))
        except (ssl.SSLWantReadError, BlockingIOError):
            pass
        except (ConnectionResetError, ssl.SSLError):
            pieces.append(b"")
        finally:
            self.tls.settimeout(timeout)
        data = b"".join(pieces)
        if data:
            self._feed(data)
        if not pieces[-1]:
            self.closed = True

    def _feed(self, data):
        for event in self.conn.receive_data(data):
            response = self.responses.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived):
                response.headers = dict(event.headers)
                response.status = int(response.headers[":status"])
            elif isinstance(event, h2.events.DataReceived):
                response.body += event.data
                response.frame_sizes.append(len(event.data))
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                response.ended = True
            elif isinstance(event, h2.events.StreamReset):
                response.reset_code = event.error_code
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                for code, change in event.changed_settings.items():
                    self.server_settings[code] = change.new_value
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event
        self._flush()

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.tls.sendall(data)
            except OSError:
                self.closed = True
