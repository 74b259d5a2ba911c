#!/usr/bin/python3
"""A Proxmox Backup Server stand-in for tests and benchmarks: the reader (restore) protocol of
../shared/spec/pbs-reader-protocol.md over real TLS and real HTTP/2 (Debian's python3-h2),
serving PBS datastore directories in the format of ../shared/spec/pbs-formats.md.

Run it with /usr/bin/python3 (Debian's h2 module is only on that interpreter's path):

  pbs_test_server.py --listen 127.0.0.1:0 --port-file FILE --cert CERT.pem --key KEY.pem
                     --datastore NAME=DIR [--datastore ...]
                     [--token 'USER@REALM!TOKENNAME:SECRET' ...] [--password 'USER@REALM:PW' ...]
                     [--ticket-lifetime SECONDS] [--max-concurrent-streams N (default 200)]
                     [--control-port-file FILE] [--faults JSON] [--verbose]
                     [--direct-session STORE:[ns/NS/]TYPE/ID/TIME --direct-session-port-file F]

A self-signed certificate that clients can pin or use as their CA file:
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout KEY.pem -out CERT.pem -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1

Once listening it writes the bound TLS port to --port-file (after the control port to
--control-port-file, so both are up when the port file appears). SIGTERM/SIGINT stop it.

TLS port (HTTP/1.1, then HTTP/2 after the upgrade; every call but the login authenticates
first, 401 "authentication failed - <reason>"):
  POST /api2/json/access/ticket            username/password (form or JSON) -> ticket, CSRF token
  GET  /api2/json/version                  the cheap authenticated call (health)
  GET  /api2/json/admin/datastore          configured store names
  GET  /api2/json/admin/datastore/{store}/snapshots[?ns=a/b&backup-type=&backup-id=]
                                           finished snapshots (real PBS needs Datastore.Audit,
                                           or Datastore.Backup for owned groups; this server
                                           lets every valid credential read everything)
  GET  /api2/json/admin/datastore/{store}/namespace[?parent=a/b&max-depth=N]
                                           the namespace and those below it ({"ns": "a/b"})
  GET  /api2/json/reader?store=&ns=&backup-type=&backup-id=&backup-time=[&debug=]
       Upgrade: proxmox-backup-reader-protocol-v1  -> 101, then HTTP/2 on the same stream:
         GET /download?file-name=NAME   index (registers its digests) or blob, no content-length
         GET /chunk?digest=HEX          raw DataBlob; 401 unless an index downloaded in this
                                        session references it, 400 if its file is missing
         GET /speedtest                 1 MiB of 'A'
  Windows 32 MiB (stream and connection), max frame 4 MiB, MAX_CONCURRENT_STREAMS from
  --max-concurrent-streams: extra streams get RST_STREAM(REFUSED_STREAM), from the first stream
  on as with hyper, so a client that opens streams before it has read these SETTINGS can see
  refusals (nghttp2 reports them; curl retries them). Each request is an asyncio task; DATA
  frames follow the client's windows and SETTINGS_MAX_FRAME_SIZE, and the streams of a
  connection take turns of up to 4 MiB (512 KiB slices under a bandwidth cap). A client GOAWAY
  ends the session at once.
  Not modelled: privileges and group ownership (every valid credential reads everything),
  the HttpOnly ticket cookie flow, the port-8007 plain-HTTP redirect.

Debug port (--direct-session, not part of PBS): TLS with ALPN h2 on 127.0.0.1, HTTP/2 at once,
no credentials; each connection is a reader session on that snapshot with every index of it
already registered, so stock HTTP/2 tools can drive the same session code, e.g.
  curl --http2 --parallel --cacert CERT.pem https://localhost:PORT/chunk?digest=HEX ...

Control port (plain HTTP/1.1 on 127.0.0.1, JSON):
  GET  /stats     counters since start (or /reset-stats):
                    connections       TLS connections accepted (handshake done)
                    upgrades          101 answers; upgrade_failures: other answers to the upgrade
                    logins            successful ticket logins; login_failures
                    downloads{name}   200 answers to /download, by file name
                    chunk_requests    every /chunk request; chunk_requests_by_digest{hex}
                    chunk_200/401/400 /chunk answers by status; chunk_bytes: bytes of 200 bodies
                    streams_refused   streams reset for MAX_CONCURRENT_STREAMS
                    max_streams_in_flight  most /chunk streams open at once on one connection
                                      (held and delayed ones count)
                    sessions_open     reader sessions now open
                    fingerprint       SHA-256 of the leaf certificate, aa:bb:...
  POST /faults    merge knobs (null = back to default):
                    chunk_latency_ms              delay before each /chunk answer (per stream)
                    bandwidth_bytes_per_s         cap on all response bodies of the server
                    stream_bandwidth_bytes_per_s  cap on each response body
                    drop_connection_after_chunks  N: after N more 200 /chunk answers, close the
                                                  connection (TLS close_notify + FIN, no GOAWAY)
                    reset_connection_after_chunks N: the same with a TCP RST
                    goaway_after_chunks           N: GOAWAY(NO_ERROR, last stream = highest
                                                  received), finish those streams, then close
                    rst_stream_after_chunks       N: after N more, the next /chunk answer stops
                                                  half-way with RST_STREAM(INTERNAL_ERROR)
                    corrupt_chunks [hex]          serve those blobs with one byte inverted
                    missing_chunks [hex]          answer 400 as if their files were unreadable
                    expire_tickets true           invalidate every ticket issued so far
                    refuse_upgrades N             answer the next N upgrades with 503
                    hang_chunks true              hold /chunk requests until set false/reset
                    unauthorized_delay_ms         delay every 401 (real PBS: about 3000)
                  Counted knobs count complete 200 /chunk answers on any connection; 0 is off;
                  each fires once.
  GET  /faults    the current knobs (--faults JSON sets them at startup)
  POST /reset     clear all faults (held /chunk requests are answered)
  POST /reset-stats  zero the counters
"""

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import socket
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbs_auth import Credentials  # noqa: E402
from pbs_datastore import (BACKUP_TYPES, MAX_NAMESPACE_DEPTH, SAFE_ID, Datastore,  # noqa: E402
                           index_digests, parse_namespace, snapshot_time_name)
from pbs_faults import BandwidthPacer, FaultError, FaultSettings, ServerStats  # noqa: E402
from pbs_http1 import BadRequest, read_request, response_bytes  # noqa: E402
from pbs_reader_session import ReaderSession  # noqa: E402

log = logging.getLogger("pbs_test_server")

READER_PROTOCOL = "proxmox-backup-reader-protocol-v1"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_URI_QUERY_LENGTH = 3072
DEFAULT_MAX_CONCURRENT_STREAMS = 200  # hyper 1's default, which PBS 4 inherits
BOOLEAN_VALUES = {"1": True, "true": True, "yes": True, "on": True,
                  "0": False, "false": False, "no": False, "off": False}
VERSION = {"version": "4.2.3", "release": "4.2", "repoid": "bc863d45e7fb"}


class ApiError(Exception):
    """An API answer other than 200; error bodies are plain text even when labelled JSON."""

    def __init__(self, status, message, content_type=JSON_CONTENT_TYPE):
        super().__init__(message)
        self.status = status
        self.content_type = content_type


def parameter_error(problems):
    lines = "".join(f"parameter '{name}': {problem}\n" for name, problem in problems)
    return ApiError(400, f"parameter verification errors\n\n{lines}")


def certificate_fingerprint(cert_path):
    """SHA-256 of the leaf certificate's DER, as `aa:bb:...` (what PBS clients pin)."""
    pem = open(cert_path, encoding="ascii").read()
    end = "-----END CERTIFICATE-----"
    der = ssl.PEM_cert_to_DER_cert(pem[:pem.index(end) + len(end)])
    return ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest())


def write_port_file(path, port):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(temporary, path)


class PbsTestServer:
    def __init__(self, args):
        self.args = args
        self.datastores = {}
        for spec in args.datastore:
            name, sep, path = spec.partition("=")
            if not sep or not SAFE_ID.match(name) or not os.path.isdir(path):
                raise SystemExit(f"--datastore {spec!r}: want NAME=DIR with an existing DIR")
            self.datastores[name] = Datastore(name, path)
        self.credentials = Credentials(args.token, args.password, args.ticket_lifetime)
        self.stats = ServerStats()
        self.faults = FaultSettings(on_expire_tickets=self.credentials.expire_all_tickets)
        if args.faults:
            try:
                self.faults.merge(json.loads(args.faults))
            except (ValueError, FaultError) as e:
                raise SystemExit(f"--faults: {e}")
        self.pacer = BandwidthPacer()
        self.fingerprint = certificate_fingerprint(args.cert)
        self.max_streams = args.max_concurrent_streams
        self._servers = []

    async def start(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # As PBS's proxy (rust-openssl's mozilla_intermediate_v5 acceptor): the client's order
        # of cipher suites decides, not the server's (Python prefers the server's by default).
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        context.load_cert_chain(self.args.cert, self.args.key)
        # No ALPN: the upgrade is HTTP/1.1 inside TLS and HTTP/2 starts only after the 101.
        host, port = parse_listen(self.args.listen)
        control = await asyncio.start_server(self._serve_control_connection, "127.0.0.1", 0)
        tls = await asyncio.start_server(self._serve_tls_connection, host, port, ssl=context,
                                         ssl_handshake_timeout=10, limit=256 * 1024)
        self._servers = [control, tls]
        control_port = control.sockets[0].getsockname()[1]
        tls_port = tls.sockets[0].getsockname()[1]
        if self.args.direct_session:
            await self._start_direct_sessions()
        if self.args.control_port_file:
            write_port_file(self.args.control_port_file, control_port)
        if self.args.port_file:
            write_port_file(self.args.port_file, tls_port)
        log.info("listening on %s:%d (control 127.0.0.1:%d), fingerprint %s", host, tls_port,
                 control_port, self.fingerprint)

    async def _start_direct_sessions(self):
        """The debug port: TLS with ALPN h2 and HTTP/2 at once (no upgrade, no credentials),
        each connection a reader session on one snapshot with all its indexes registered, so
        that stock HTTP/2 tools (curl --http2, which uses libnghttp2) can fetch chunks."""
        store_name, _, snapshot = self.args.direct_session.partition(":")
        store = self.datastores.get(store_name)
        snapshot_dir = os.path.join(store.root, snapshot) if store else ""
        if not os.path.isdir(snapshot_dir):
            raise SystemExit(f"--direct-session {self.args.direct_session!r}: want "
                             "STORE:[ns/NS/]TYPE/ID/TIME naming an existing snapshot")
        digests = set()
        for name in os.listdir(snapshot_dir):
            if name.endswith((".fidx", ".didx")):
                with open(os.path.join(snapshot_dir, name), "rb") as f:
                    digests.update(index_digests(f.read()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.args.cert, self.args.key)
        context.set_alpn_protocols(["h2"])

        async def serve(reader, writer):
            self.stats.connections += 1
            session = ReaderSession(self, reader, writer, store, snapshot_dir, self.max_streams)
            session.allowed_digests.update(digests)
            await session.run()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context,
                                            ssl_handshake_timeout=10, limit=256 * 1024)
        self._servers.append(server)
        if self.args.direct_session_port_file:
            write_port_file(self.args.direct_session_port_file,
                            server.sockets[0].getsockname()[1])

    async def close(self):
        for server in self._servers:
            server.close()

    async def unauthorized_delay(self):
        if self.faults.unauthorized_delay_ms:
            await asyncio.sleep(self.faults.unauthorized_delay_ms / 1000)

    # ---- TLS port: the API and the reader upgrade ---------------------------------------

    async def _serve_tls_connection(self, reader, writer):
        self.stats.connections += 1
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.cipher():
            self.stats.ciphers[ssl_object.cipher()[0]] += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        writer.transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        try:
            while True:
                try:
                    request = await read_request(reader, writer)
                except BadRequest as e:
                    writer.write(response_bytes(e.status, str(e), close=True))
                    break
                if request is None:
                    break
                session, answer = await self._answer_api(request, reader, writer)
                if session is not None:
                    self.stats.sessions_open += 1
                    try:
                        await session.run(prefix=answer)
                    finally:
                        self.stats.sessions_open -= 1
                    return
                writer.write(answer)
                await writer.drain()
                if request.wants_close():
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("connection failed")
        if not writer.is_closing():
            writer.close()

    async def _answer_api(self, request, reader, writer):
        """(None, response bytes), or (session, 101 bytes) for an accepted reader upgrade."""
        is_upgrade = request.path.rstrip("/") == "/api2/json/reader"
        try:
            return await self._route_api(request, reader, writer, is_upgrade)
        except ApiError as e:
            if is_upgrade:
                self.stats.upgrade_failures += 1
            log.info("%s %s -> %d %s", request.method, request.path, e.status, e)
            return None, response_bytes(e.status, str(e), content_type=e.content_type,
                                        close=request.wants_close())

    async def _route_api(self, request, reader, writer, is_upgrade):
        if len(request.target) > MAX_URI_QUERY_LENGTH:
            raise ApiError(414, "URI too long")
        components = [c for c in request.path.split("/") if c]
        if components[:2] != ["api2", "json"]:
            raise ApiError(404, f"Path '{request.path}' not found.")
        route = components[2:]
        if request.method == "POST" and route == ["access", "ticket"]:
            return None, await self._login(request)
        authid, reason = self.credentials.authenticate(request.headers)
        if authid is None:
            await self.unauthorized_delay()
            raise ApiError(401, f"authentication failed - {reason}", content_type=None)
        if request.method != "GET":
            raise ApiError(404, f"Path '{request.path}' not found.")
        if route == ["version"]:
            return None, self._json_answer(request, {"data": VERSION})
        if route == ["admin", "datastore"]:
            stores = [{"store": name} for name in sorted(self.datastores)]
            return None, self._json_answer(request, {"data": stores})
        if len(route) == 4 and route[:2] == ["admin", "datastore"] and route[3] == "snapshots":
            return None, await self._snapshot_listing(request, route[2])
        if len(route) == 4 and route[:2] == ["admin", "datastore"] and route[3] == "namespace":
            return None, await self._namespace_listing(request, route[2])
        if route == ["reader"]:
            return self._upgrade(request, reader, writer, authid)
        raise ApiError(404, f"Path '{request.path}' not found.")

    def _json_answer(self, request, value):
        return response_bytes(200, json.dumps(value), content_type=JSON_CONTENT_TYPE,
                              close=request.wants_close())

    async def _login(self, request):
        params = dict(request.query_pairs())
        body = request.body.decode("utf-8", "replace")
        if body.lstrip().startswith("{"):
            try:
                params.update({k: str(v) for k, v in json.loads(body).items()})
            except (ValueError, AttributeError):
                raise ApiError(400, "unable to parse JSON body")
        else:
            params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
        issued = self.credentials.login(params.get("username", ""), params.get("password", ""))
        if issued is None:
            self.stats.login_failures += 1
            await self.unauthorized_delay()
            raise ApiError(401, "permission check failed.")
        self.stats.logins += 1
        ticket, csrf = issued
        data = {"username": params["username"], "ticket": ticket, "CSRFPreventionToken": csrf}
        return self._json_answer(request, {"data": data, "status": 200, "success": True})

    def _store(self, name):
        store = self.datastores.get(name)
        if store is None:
            raise ApiError(400, f"datastore '{name}' does not exist")
        return store

    async def _snapshot_listing(self, request, store_name):
        params, problems = {}, []
        for name, value in request.query_pairs():
            if name == "_dc":
                continue
            if name not in ("ns", "backup-type", "backup-id"):
                problems.append((name, "schema does not allow additional properties."))
            params[name] = value
        if params.get("backup-type") not in (None, *BACKUP_TYPES):
            problems.append(("backup-type", "value is not defined in the enumeration."))
        if params.get("backup-id") is not None and not SAFE_ID.match(params["backup-id"]):
            problems.append(("backup-id", "value does not match the regex pattern"))
        try:
            ns = parse_namespace(params.get("ns"))
        except ValueError as e:
            problems.append(("ns", str(e)))
        if problems:
            raise parameter_error(problems)
        store = self._store(store_name)
        if not os.path.isdir(store.namespace_dir(ns)):
            raise ApiError(400, f"namespace '{params.get('ns')}' does not exist")
        items = await asyncio.get_running_loop().run_in_executor(
            None, store.list_snapshots, ns, params.get("backup-type"), params.get("backup-id"))
        return self._json_answer(request, {"data": items})

    async def _namespace_listing(self, request, store_name):
        """`GET .../namespace[?parent=a/b&max-depth=N]`: the namespace itself and those below
        it (NamespaceListItem `{"ns": "a/b"}`; the root is `""`)."""
        params, problems = {}, []
        for name, value in request.query_pairs():
            if name == "_dc":
                continue
            if name not in ("parent", "max-depth"):
                problems.append((name, "schema does not allow additional properties."))
            params[name] = value
        try:
            parent = parse_namespace(params.get("parent"))
        except ValueError as e:
            problems.append(("parent", str(e)))
        max_depth = MAX_NAMESPACE_DEPTH
        if "max-depth" in params:
            try:
                max_depth = int(params["max-depth"])
                if not 0 <= max_depth <= MAX_NAMESPACE_DEPTH:
                    raise ValueError
            except ValueError:
                problems.append(("max-depth", "value must be in the range 0 - %d"
                                 % MAX_NAMESPACE_DEPTH))
        if problems:
            raise parameter_error(problems)
        store = self._store(store_name)
        if not os.path.isdir(store.namespace_dir(parent)):
            raise ApiError(400, f"namespace '{params.get('parent')}' does not exist")
        names = await asyncio.get_running_loop().run_in_executor(
            None, store.list_namespaces, parent, max_depth)
        return self._json_answer(request, {"data": [{"ns": "/".join(ns)} for ns in names]})

    def _upgrade(self, request, reader, writer, authid):
        """Checks in the order of pbs-reader-protocol.md §3.3, then the 101 and a session."""
        params, problems = {}, []
        for name, value in request.query_pairs():
            if name == "_dc":
                continue
            if name not in ("store", "ns", "backup-type", "backup-id", "backup-time", "debug"):
                problems.append((name, "schema does not allow additional properties."))
            elif name in params:
                problems.append((name, "duplicate parameter."))
            params[name] = value
        for name in ("store", "backup-type", "backup-id", "backup-time"):
            if name not in params:
                problems.append((name, "parameter is missing and it is not optional."))
        store_name = params.get("store", "")
        if "store" in params and not (SAFE_ID.match(store_name) and 3 <= len(store_name) <= 32):
            problems.append(("store", "value does not match the regex pattern"))
        if "backup-type" in params and params["backup-type"] not in BACKUP_TYPES:
            problems.append(("backup-type", "value is not defined in the enumeration."))
        if "backup-id" in params and not SAFE_ID.match(params["backup-id"]):
            problems.append(("backup-id", "value does not match the regex pattern"))
        backup_time = None
        if "backup-time" in params:
            try:
                backup_time = int(params["backup-time"])
                if backup_time < 1:
                    raise ValueError
            except ValueError:
                problems.append(("backup-time", "expected an integer >= 1"))
        if "debug" in params and params["debug"].lower() not in BOOLEAN_VALUES:
            problems.append(("debug", "unable to parse boolean"))
        ns = []
        try:
            ns = parse_namespace(params.get("ns"))
        except ValueError as e:
            problems.append(("ns", str(e)))
        if problems:
            raise parameter_error(problems)

        store = self._store(store_name)
        upgrade = request.header("upgrade")
        if upgrade is None:
            raise ApiError(400, "missing Upgrade header")
        if upgrade != READER_PROTOCOL:
            raise ApiError(400, "invalid protocol name")
        snapshot_dir = store.snapshot_dir(ns, params["backup-type"], params["backup-id"],
                                          backup_time)
        if not os.path.isdir(snapshot_dir):
            raise ApiError(400, f"snapshot {params['backup-type']}/{params['backup-id']}/"
                           f"{snapshot_time_name(backup_time)} does not exist.")
        if self.faults.refuse_upgrades:
            self.faults.refuse_upgrades -= 1
            raise ApiError(503, "service unavailable (refused by the test server's fault knob)")
        self.stats.upgrades += 1
        log.info("reader session for %s as %s", snapshot_dir, authid)
        answer = response_bytes(101, content_type=None, content_length=False,
                                headers=[("connection", "upgrade"),
                                         ("upgrade", READER_PROTOCOL)])
        return ReaderSession(self, reader, writer, store, snapshot_dir, self.max_streams), answer

    # ---- control port --------------------------------------------------------------------

    async def _serve_control_connection(self, reader, writer):
        try:
            request = await read_request(reader, writer)
            if request is not None:
                status, value = self._control(request)
                writer.write(response_bytes(status, json.dumps(value),
                                            content_type="application/json", close=True))
                await writer.drain()
        except BadRequest as e:
            writer.write(response_bytes(e.status, str(e), close=True))
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        writer.close()

    def _control(self, request):
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/stats"):
            return 200, {**self.stats.to_json(), "fingerprint": self.fingerprint}
        if route == ("GET", "/faults"):
            return 200, self.faults.describe()
        if route == ("POST", "/faults"):
            try:
                self.faults.merge(json.loads(request.body or b"{}"))
            except (ValueError, FaultError) as e:
                return 400, {"error": str(e)}
            log.info("faults now %s", self.faults.describe())
            return 200, self.faults.describe()
        if route == ("POST", "/reset"):
            self.faults.reset()
            return 200, self.faults.describe()
        if route == ("POST", "/reset-stats"):
            self.stats.reset()
            return 200, self.stats.to_json()
        return 404, {"error": f"no control endpoint {request.method} {request.path}"}


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"--listen {text!r}: want HOST:PORT")
    return host.strip("[]"), int(port)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--port-file")
    parser.add_argument("--control-port-file")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--datastore", action="append", default=[], required=True)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--password", action="append", default=[])
    parser.add_argument("--ticket-lifetime", type=float, default=7200)
    parser.add_argument("--max-concurrent-streams", type=int,
                        default=DEFAULT_MAX_CONCURRENT_STREAMS)
    parser.add_argument("--direct-session", metavar="STORE:SNAPSHOT",
                        help="debug port: h2 over TLS (ALPN) without upgrade, on this snapshot")
    parser.add_argument("--direct-session-port-file")
    parser.add_argument("--faults", metavar="JSON",
                        help="initial fault knobs, as a POST /faults body")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args):
    server = PbsTestServer(args)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.close()


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s pbs_test_server %(levelname)s %(message)s")
    try:
        asyncio.run(serve(args))
    except (ValueError, OSError, ssl.SSLError) as e:
        # Bad arguments, unreadable certificate or key, port in use: one line, exit 1.
        raise SystemExit(f"pbs_test_server: cannot start: {e}")


if __name__ == "__main__":
    main(sys.argv[1:])
