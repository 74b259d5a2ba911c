#!/usr/bin/python3
"""Self-test of the test PBS server (pbs_test_server.py) against independent clients: Python's
ssl + h2 for the TLS and HTTP/2 reader session, curl for the HTTP/1.1 calls and the control
port. Datastores are written here from the format spec (uncompressed DataBlobs with CRC32),
plus a copy of the genuine vectors (zstd manifests, a namespace, a dynamic index).

  pbs_test_server_test.py [--vectors DIR] [--chunkcache BIN] [--scratch DIR] [--keep]
                          [unittest options]
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import zlib

import h2.config
import h2.connection
import h2.errors
import h2.settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbs_test_client import (IO_TIMEOUT, READER_PROTOCOL, ReaderClient,  # noqa: E402
                             ServerProcess, UpgradeRefused, make_certificate,
                             read_http1_answer, tls_connect)
from pbs_test_datastore_writer import (SnapshotWriter, chunk_file,  # noqa: E402
                                       decode_plain_blob, pseudo_random, read_file)
from pbs_h2_output import SegmentedOutputConnection  # noqa: E402

TOKEN_ID = "backup@pbs!restore"
TOKEN_SECRET = "0d0c6a1e-secret: with spaces?"  # percent-encoded on the wire
PASSWORD_USER = "root@pam"
PASSWORD = "hunter2"
CREDENTIALS = ["--token", f"{TOKEN_ID}:{TOKEN_SECRET}", "--password", f"{PASSWORD_USER}:{PASSWORD}"]

VM100_TIME = 1767225600  # 2026-01-01T00:00:00Z
VM200_TIME = 1767312000  # 2026-01-02T00:00:00Z
CHUNK_SIZE = 64 * 1024

ARGS = None  # set in main()


def token_header(secret=TOKEN_SECRET, separator=" "):
    return f"PBSAPIToken{separator}{TOKEN_ID}:{urllib.parse.quote(secret, safe='')}"


def snapshot_query(store="store1", backup_type="vm", backup_id="100", backup_time=VM100_TIME,
                   ns=None, **extra):
    query = {"backup-type": backup_type, "backup-id": backup_id, "backup-time": backup_time,
             "debug": "true", "store": store, **extra}
    if ns:
        query["ns"] = ns
    return query


# ---- the tests ------------------------------------------------------------------------------

class TestEnvironment:
    """Datastores, certificate and one shared server; tests that need another start their own."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.cert, self.key = make_certificate(scratch)
        self.store = os.path.join(scratch, "store1")
        self.vm100 = SnapshotWriter(self.store, "", "vm", "100", VM100_TIME, TOKEN_ID)
        self.image = pseudo_random("vm100", 5 * CHUNK_SIZE + 1000)
        self.vm100_digests = self.vm100.fixed_index("drive-scsi0.img.fidx", self.image)
        self.vm100.blob_file("qemu-server.conf.blob", b"memory: 512\ncores: 1\n")
        self.vm100.finish()
        self.vm200 = SnapshotWriter(self.store, "", "vm", "200", VM200_TIME, TOKEN_ID)
        self.vm200_digests = self.vm200.fixed_index(
            "drive-scsi0.img.fidx", pseudo_random("vm200", 3 * CHUNK_SIZE))
        self.vm200.finish()
        # Referenced by vm/200's index but gone from the chunk store.
        self.missing_digest = self.vm200_digests[1]
        os.unlink(chunk_file(self.store, self.missing_digest))
        self.host = SnapshotWriter(self.store, "team/a", "host", "web", VM100_TIME, TOKEN_ID)
        self.host_pieces = [pseudo_random("didx", n) for n in (1000, 70000, 12345)]
        self.host_digests = self.host.dynamic_index("root.pxar.didx", self.host_pieces)
        self.host.finish()
        self.vectors = None
        if ARGS.vectors and os.path.isdir(ARGS.vectors):
            self.vectors = os.path.join(scratch, "vectors")
            shutil.copytree(ARGS.vectors, self.vectors)
        stores = {"store1": self.store}
        if self.vectors:
            stores["vectors"] = self.vectors
        self.stores = stores
        self.server = ServerProcess(scratch, self.cert, self.key, stores, CREDENTIALS)

    def start_server(self, *extra_args):
        return ServerProcess(self.scratch, self.cert, self.key, self.stores, CREDENTIALS,
                             extra_args)


ENV = None


def setUpModule():
    global ENV
    scratch = tempfile.mkdtemp(prefix="pbs-test-server-", dir=ARGS.scratch)
    ENV = TestEnvironment(scratch)


def tearDownModule():
    if ENV:
        ENV.server.stop()


class ServerTestCase(unittest.TestCase):
    def setUp(self):
        self.server = ENV.server
        self.server.control("POST", "/reset")
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()

    def reader(self, server=None, headers=None, **query_and_options):
        options = {k: query_and_options.pop(k) for k in ("window", "max_frame")
                   if k in query_and_options}
        if headers is None:
            headers = {"Authorization": token_header()}
        client = ReaderClient(server or self.server, snapshot_query(**query_and_options),
                              headers, **options)
        self.clients.append(client)
        return client

    def open_vm100(self, server=None):
        client = self.reader(server)
        self.assertEqual(client.get("/download?file-name=drive-scsi0.img.fidx").status, 200)
        return client


class TlsAndAuthTest(ServerTestCase):
    def test_tls_with_self_signed_certificate_and_no_alpn(self):
        tls = tls_connect(self.server.port, ENV.cert, alpn=["h2", "http/1.1"])
        try:
            self.assertIsNone(tls.selected_alpn_protocol())
            der = tls.getpeercert(binary_form=True)
        finally:
            tls.close()
        expected = subprocess.run(
            ["openssl", "x509", "-in", ENV.cert, "-noout", "-fingerprint", "-sha256"],
            capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1].lower()
        self.assertEqual(self.server.stats()["fingerprint"], expected)
        self.assertEqual(expected, ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest()))

    def test_token_auth_on_the_version_call(self):
        for separator in (" ", "="):
            status, _, body = self.server.curl(
                "/api2/json/version", "-H", f"Authorization: {token_header(separator=separator)}")
            self.assertEqual(status, 200)
            self.assertIn("version", json.loads(body)["data"])

    def test_bad_credentials_get_401(self):
        cases = {"no credentials": [],
                 "wrong secret": ["-H", f"Authorization: {token_header(secret='nope')}"],
                 "unknown scheme": ["-H", "Authorization: Bearer x"],
                 "unknown ticket": ["-H", "Cookie: PBSAuthCookie=PBS:root@pam:00000000::x"]}
        for name, options in cases.items():
            with self.subTest(name):
                status, headers, body = self.server.curl("/api2/json/version", *options)
                self.assertEqual(status, 401)
                self.assertTrue(body.startswith(b"authentication failed - "), body)
                self.assertNotIn("content-type", headers)
        # Authentication comes before routing: an unknown path is 401 too.
        status, _, _ = self.server.curl("/api2/json/nowhere")
        self.assertEqual(status, 401)
        with self.assertRaises(UpgradeRefused) as refused:
            self.reader(headers={"Authorization": token_header(secret="nope")})
        self.assertEqual(refused.exception.status, 401)

    def test_long_uri_is_414(self):
        status, _, _ = self.server.curl("/api2/json/version?_dc=" + "x" * 4000,
                                        "-H", f"Authorization: {token_header()}")
        self.assertEqual(status, 414)

    def test_login_then_upgrade_on_one_connection(self):
        tls = tls_connect(self.server.port, ENV.cert)
        try:
            body = urllib.parse.urlencode({"username": PASSWORD_USER, "password": PASSWORD})
            tls.sendall((f"POST /api2/json/access/ticket HTTP/1.1\r\nHost: localhost\r\n"
                         f"Content-Type: application/x-www-form-urlencoded\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
            status, _, answer, rest = read_http1_answer(tls)
            self.assertEqual(status, 200)
            ticket = urllib.parse.quote(json.loads(answer)["data"]["ticket"], safe="")
            tls.sendall((f"GET /api2/json/reader?{urllib.parse.urlencode(snapshot_query())} "
                         f"HTTP/1.1\r\nHost: localhost\r\nCookie: PBSAuthCookie={ticket}\r\n"
                         f"Connection: upgrade\r\nUpgrade: {READER_PROTOCOL}\r\n\r\n").encode())
            status, headers, _, _ = read_http1_answer(tls)
            self.assertEqual(status, 101)
            self.assertEqual(headers["upgrade"], READER_PROTOCOL)
        finally:
            tls.close()

    def login(self, *options):
        status, _, body = self.server.curl("/api2/json/access/ticket", *options)
        return status, (json.loads(body)["data"] if status == 200 else body)

    def test_ticket_login_form_and_json(self):
        before = self.server.stats()["logins"]
        status, data = self.login("-d", f"username={PASSWORD_USER}", "-d", f"password={PASSWORD}")
        self.assertEqual(status, 200)
        self.assertTrue(data["ticket"].startswith(f"PBS:{PASSWORD_USER}:"))
        self.assertIn("CSRFPreventionToken", data)
        cookie = f"Cookie: PBSAuthCookie={urllib.parse.quote(data['ticket'], safe='')}"
        self.assertEqual(self.server.curl("/api2/json/version", "-H", cookie)[0], 200)
        # The cookie wins over a (bad) token header.
        self.assertEqual(self.server.curl(
            "/api2/json/version", "-H", cookie,
            "-H", f"Authorization: {token_header(secret='bad')}")[0], 200)
        status, data = self.login("-H", "Content-Type: application/json", "--data-binary",
                                  json.dumps({"username": PASSWORD_USER, "password": PASSWORD}))
        self.assertEqual(status, 200)
        self.assertEqual(self.server.stats()["logins"], before + 2)
        status, body = self.login("-d", f"username={PASSWORD_USER}", "-d", "password=wrong")
        self.assertEqual(status, 401)
        self.assertIn(b"permission check failed", body)

    def test_ticket_upgrade_and_expire_tickets(self):
        _, data = self.login("-d", f"username={PASSWORD_USER}", "-d", f"password={PASSWORD}")
        cookie = {"Cookie": f"PBSAuthCookie={urllib.parse.quote(data['ticket'], safe='')}",
                  "CSRFPreventionToken": data["CSRFPreventionToken"]}
        open_session = self.reader(headers=cookie)
        self.server.faults(expire_tickets=True)
        with self.assertRaises(UpgradeRefused) as refused:
            self.reader(headers=cookie)
        self.assertEqual(refused.exception.status, 401)
        # A session is authenticated once, at the upgrade: the open one goes on.
        self.assertEqual(open_session.get("/download?file-name=index.json.blob").status, 200)
        _, data = self.login("-d", f"username={PASSWORD_USER}", "-d", f"password={PASSWORD}")
        self.reader(headers={"Cookie": "PBSAuthCookie="
                             + urllib.parse.quote(data["ticket"], safe="")})

    def test_ticket_lifetime(self):
        server = ENV.start_server("--ticket-lifetime", "1")
        try:
            status, _, body = server.curl("/api2/json/access/ticket", "-d",
                                          f"username={PASSWORD_USER}", "-d",
                                          f"password={PASSWORD}")
            ticket = urllib.parse.quote(json.loads(body)["data"]["ticket"], safe="")
            time.sleep(2.5)  # a ticket's time has 1 s resolution
            status, _, body = server.curl("/api2/json/version", "-H",
                                          f"Cookie: PBSAuthCookie={ticket}")
            self.assertEqual(status, 401)
            self.assertIn(b"expired", body)
        finally:
            server.stop()


class UpgradeTest(ServerTestCase):
    def test_upgrade_keeps_the_bytes_after_101(self):
        client = self.reader()
        self.assertEqual(client.upgrade_headers.get("upgrade"), READER_PROTOCOL)
        self.assertEqual(client.upgrade_headers.get("connection"), "upgrade")
        # The server's SETTINGS come in the same write as the 101, before it sees our preface
        # acknowledged; our preface went out in the same write as the request.
        self.assertGreater(len(client.bytes_after_101), 0)
        response = client.get("/download?file-name=index.json.blob")
        self.assertEqual(response.status, 200)

    def test_settings_advertised(self):
        client = self.reader()
        client.get("/download?file-name=index.json.blob")
        codes = h2.settings.SettingCodes
        self.assertEqual(client.server_settings.get(codes.MAX_CONCURRENT_STREAMS), 200)
        self.assertEqual(client.server_settings.get(codes.INITIAL_WINDOW_SIZE), 32 << 20)
        self.assertEqual(client.server_settings.get(codes.MAX_FRAME_SIZE), 4 << 20)

    def test_upgrade_errors(self):
        cases = [
            ("missing snapshot", {"backup_id": "999"}, {}, 400, b"does not exist"),
            ("unknown store", {"store": "nostore"}, {}, 400, b"nostore"),
            ("unknown parameter", {"color": "blue"}, {}, 400, b"color"),
            ("bad backup type", {"backup_type": "lxc"}, {}, 400, b"backup-type"),
            ("namespace too deep", {"ns": "/".join("abcdefgh")}, {}, 400, b"ns"),
            ("wrong protocol", {}, {"Upgrade": "h2c"}, 400, b"invalid protocol name"),
        ]
        for name, query, headers, status, text in cases:
            with self.subTest(name):
                options = dict(query)
                all_headers = {"Authorization": token_header()}
                if "Upgrade" in headers:
                    # Replace the client's Upgrade header: send the request by hand.
                    tls = tls_connect(self.server.port, ENV.cert)
                    tls.sendall((f"GET /api2/json/reader?{urllib.parse.urlencode(snapshot_query())}"
                                 f" HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
                                 f"{token_header()}\r\nConnection: upgrade\r\n"
                                 f"Upgrade: {headers['Upgrade']}\r\n\r\n").encode())
                    got, _, body, _ = read_http1_answer(tls)
                    tls.close()
                else:
                    with self.assertRaises(UpgradeRefused) as refused:
                        self.reader(headers=all_headers, **options)
                    got, body = refused.exception.status, refused.exception.body
                self.assertEqual(got, status)
                self.assertIn(text, body)

    def test_refuse_upgrades(self):
        before = self.server.stats()
        self.server.faults(refuse_upgrades=1)
        with self.assertRaises(UpgradeRefused) as refused:
            self.reader()
        self.assertEqual(refused.exception.status, 503)
        self.reader()
        after = self.server.stats()
        self.assertEqual(after["upgrades"], before["upgrades"] + 1)
        self.assertEqual(after["upgrade_failures"], before["upgrade_failures"] + 1)


class ReaderSessionTest(ServerTestCase):
    def test_download_manifest_and_index(self):
        client = self.reader()
        manifest = client.get("/download?file-name=index.json.blob")
        self.assertEqual(manifest.status, 200)
        self.assertEqual(manifest.headers["content-type"], "application/octet-stream")
        self.assertNotIn("content-length", manifest.headers)
        self.assertEqual(bytes(manifest.body), read_file(ENV.vm100.path("index.json.blob")))
        index = client.get("/download?file-name=drive-scsi0.img.fidx")
        self.assertEqual(index.status, 200)
        self.assertEqual(bytes(index.body), read_file(ENV.vm100.path("drive-scsi0.img.fidx")))

    def test_chunk_of_a_downloaded_index(self):
        client = self.open_vm100()
        pieces = []
        for digest in ENV.vm100_digests:
            response = client.get(f"/chunk?digest={digest}")
            self.assertEqual(response.status, 200)
            self.assertEqual(response.headers["content-type"], "application/octet-stream")
            self.assertEqual(int(response.headers["content-length"]), len(response.body))
            self.assertEqual(bytes(response.body), read_file(chunk_file(ENV.store, digest)))
            pieces.append(bytes(response.body[12:]))
        self.assertEqual(b"".join(pieces), ENV.image)

    def test_chunk_access_rule(self):
        client = self.reader()
        digest = ENV.vm100_digests[0]
        # Not yet downloaded in this session.
        response = client.get(f"/chunk?digest={digest}")
        self.assertEqual(response.status, 401)
        self.assertEqual(bytes(response.body), f"download chunk {digest} not allowed".encode())
        # Blobs register nothing; indexes do.
        client.get("/download?file-name=index.json.blob")
        self.assertEqual(client.get(f"/chunk?digest={digest}").status, 401)
        client.get("/download?file-name=drive-scsi0.img.fidx")
        self.assertEqual(client.get(f"/chunk?digest={digest}").status, 200)
        # A chunk of another snapshot stays out of reach in this session.
        self.assertEqual(client.get(f"/chunk?digest={ENV.vm200_digests[0]}").status, 401)
        # A new session starts empty.
        self.assertEqual(self.reader().get(f"/chunk?digest={digest}").status, 401)

    def test_missing_chunk_is_400(self):
        client = self.reader(backup_id="200", backup_time=VM200_TIME)
        client.get("/download?file-name=drive-scsi0.img.fidx")
        response = client.get(f"/chunk?digest={ENV.missing_digest}")
        self.assertEqual(response.status, 400)
        self.assertTrue(bytes(response.body).startswith(b"reading file "), response.body)
        self.assertIn(b"No such file or directory", response.body)
        self.assertEqual(client.get(f"/chunk?digest={ENV.vm200_digests[0]}").status, 200)

    def test_error_split(self):
        client = self.reader()
        cases = [
            ("/download?file-name=nothing.blob", 404, b"not found"),
            ("/download?file-name=nothing.fidx", 400, b"Unable to open fixed index"),
            ("/download?file-name=nothing.didx", 400, b"Unable to open dynamic index"),
            ("/download?file-name=notes.txt", 400, b"unknown archive type"),
            ("/download?file-name=..%2Fowner", 400, b"file-name"),
            ("/download", 400, b"file-name"),
            (f"/chunk?digest={ENV.vm100_digests[0].upper()}", 400, b"digest"),
            ("/chunk?digest=abc", 400, b"digest"),
            ("/nothing", 404, b"not found"),
        ]
        for path, status, text in cases:
            with self.subTest(path):
                response = client.get(path)
                self.assertEqual(response.status, status)
                self.assertIn(text, bytes(response.body))

    def test_speedtest_uses_large_frames_and_honours_small_ones(self):
        response = self.reader().get("/speedtest")
        self.assertEqual(bytes(response.body), b"A" * (1 << 20))
        self.assertGreater(max(response.frame_sizes), 16384)
        self.assertLessEqual(max(response.frame_sizes), 4 << 20)
        small = self.reader(max_frame=16384).get("/speedtest")
        self.assertEqual(len(small.body), 1 << 20)
        self.assertLessEqual(max(small.frame_sizes), 16384)

    def test_small_flow_control_window(self):
        client = self.reader(window=4096, max_frame=16384)
        client.get("/download?file-name=drive-scsi0.img.fidx")
        ids = [client.send(f"/chunk?digest={d}") for d in ENV.vm100_digests[:3]]
        for digest, response in zip(ENV.vm100_digests, client.wait(ids)):
            self.assertEqual(response.status, 200)
            self.assertEqual(bytes(response.body), read_file(chunk_file(ENV.store, digest)))
            self.assertLessEqual(max(response.frame_sizes), 4096)

    def test_namespace_and_dynamic_index(self):
        client = self.reader(ns="team/a", backup_type="host", backup_id="web")
        client.get("/download?file-name=root.pxar.didx")
        for digest, piece in zip(ENV.host_digests, ENV.host_pieces):
            response = client.get(f"/chunk?digest={digest}")
            self.assertEqual(response.status, 200)
            self.assertEqual(bytes(response.body[12:]), piece)
        with self.assertRaises(UpgradeRefused):  # the same group is not in the root namespace
            self.reader(backup_type="host", backup_id="web")

    def test_genuine_vectors_encrypted_namespace(self):
        if not ENV.vectors:
            self.skipTest("vectors not found")
        client = self.reader(store="vectors", ns="enc", backup_time=1767312000)
        index = client.get("/download?file-name=drive-scsi0.img.fidx")
        self.assertEqual(index.status, 200)
        digest = "b88337abd1ddacd0461a9b5ce5cf7db476c41fb38cf1d6fdb4c2fc93dfba1f9d"
        response = client.get(f"/chunk?digest={digest}")
        self.assertEqual(response.status, 200)
        self.assertEqual(bytes(response.body), read_file(chunk_file(ENV.vectors, digest)))
        self.assertEqual(bytes(response.body[:8]), bytes.fromhex("e6591bbf0bbfd80b"))

    def test_stats_count_what_happened(self):
        before = self.server.stats()
        client = self.open_vm100()
        digest = ENV.vm100_digests[1]
        client.get(f"/chunk?digest={digest}")
        client.get(f"/chunk?digest={digest}")
        client.get(f"/chunk?digest={ENV.vm200_digests[2]}")
        other = self.reader(backup_id="200", backup_time=VM200_TIME)
        other.get("/download?file-name=drive-scsi0.img.fidx")
        other.get(f"/chunk?digest={ENV.missing_digest}")
        after = self.server.stats()
        self.assertEqual(after["connections"], before["connections"] + 2)
        self.assertEqual(after["upgrades"], before["upgrades"] + 2)
        self.assertEqual(after["downloads"]["drive-scsi0.img.fidx"],
                         before["downloads"].get("drive-scsi0.img.fidx", 0) + 2)
        self.assertEqual(after["chunk_requests"], before["chunk_requests"] + 4)
        self.assertEqual(after["chunk_requests_by_digest"][digest],
                         before["chunk_requests_by_digest"].get(digest, 0) + 2)
        self.assertEqual(after["chunk_401"], before["chunk_401"] + 1)
        self.assertEqual(after["chunk_400"], before["chunk_400"] + 1)
        self.assertGreaterEqual(after["max_streams_in_flight"], 1)


class ListingTest(ServerTestCase):
    def listing(self, store, query=""):
        status, _, body = self.server.curl(
            f"/api2/json/admin/datastore/{store}/snapshots{query}",
            "-H", f"Authorization: {token_header()}")
        return status, json.loads(body)["data"] if status == 200 else body

    def test_root_and_namespace_listing(self):
        status, items = self.listing("store1")
        self.assertEqual(status, 200)
        found = {(i["backup-type"], i["backup-id"], i["backup-time"]) for i in items}
        self.assertEqual(found, {("vm", "100", VM100_TIME), ("vm", "200", VM200_TIME)})
        vm100 = next(i for i in items if i["backup-id"] == "100")
        files = {f["filename"]: f for f in vm100["files"]}
        self.assertEqual(files["drive-scsi0.img.fidx"]["size"], len(ENV.image))
        self.assertEqual(files["drive-scsi0.img.fidx"]["crypt-mode"], "none")
        self.assertIn("index.json.blob", files)
        self.assertEqual(vm100["owner"], TOKEN_ID)
        status, items = self.listing("store1", "?ns=team%2Fa")
        self.assertEqual([(i["backup-type"], i["backup-id"]) for i in items], [("host", "web")])
        self.assertEqual(self.listing("store1", "?backup-id=200")[1][0]["backup-id"], "200")
        self.assertEqual(self.listing("nostore")[0], 400)
        self.assertEqual(self.listing("store1", "?ns=nowhere")[0], 400)

    def test_namespace_listing(self):
        def names(query=""):
            status, _, body = self.server.curl(
                "/api2/json/admin/datastore/store1/namespace" + query,
                "-H", f"Authorization: {token_header()}")
            return status, ([i["ns"] for i in json.loads(body)["data"]] if status == 200
                            else body)
        self.assertEqual(names(), (200, ["", "team", "team/a"]))
        self.assertEqual(names("?parent=team"), (200, ["team", "team/a"]))
        self.assertEqual(names("?max-depth=1"), (200, ["", "team"]))
        self.assertEqual(names("?parent=nowhere")[0], 400)
        self.assertEqual(names("?max-depth=9")[0], 400)

    def test_vectors_listing_reads_compressed_manifests(self):
        if not ENV.vectors:
            self.skipTest("vectors not found")
        status, items = self.listing("vectors", "?ns=enc")
        self.assertEqual(status, 200)
        self.assertEqual(len(items), 1)
        files = {f["filename"]: f for f in items[0]["files"]}
        self.assertEqual(files["drive-scsi0.img.fidx"]["crypt-mode"], "encrypt")
        self.assertEqual(files["drive-scsi0.img.fidx"]["size"], 16782216)
        self.assertTrue(items[0]["fingerprint"].startswith("0e:ab:d4"))


class FaultTest(ServerTestCase):
    def test_latency_per_chunk(self):
        client = self.open_vm100()
        self.server.faults(chunk_latency_ms=400)
        started = time.monotonic()
        response = client.get(f"/chunk?digest={ENV.vm100_digests[0]}")
        self.assertEqual(response.status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.39)

    def test_bandwidth_cap(self):
        self.server.faults(bandwidth_bytes_per_s=2_000_000)
        started = time.monotonic()
        response = self.reader().get("/speedtest")
        self.assertEqual(len(response.body), 1 << 20)
        # The first slice (40 KB at this rate) leaves at once, the rest at 2 MB/s.
        self.assertGreaterEqual(time.monotonic() - started, (1048576 - 40000) / 2_000_000 * 0.95)

    def test_stream_bandwidth_cap(self):
        self.server.faults(stream_bandwidth_bytes_per_s=2_000_000)
        started = time.monotonic()
        response = self.reader().get("/speedtest")
        self.assertEqual(len(response.body), 1 << 20)
        self.assertGreaterEqual(time.monotonic() - started, (1048576 - 40000) / 2_000_000 * 0.95)

    def test_unauthorized_delay(self):
        client = self.reader()
        self.server.faults(unauthorized_delay_ms=300)
        started = time.monotonic()
        self.assertEqual(client.get(f"/chunk?digest={ENV.vm100_digests[0]}").status, 401)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)
        started = time.monotonic()
        self.assertEqual(self.server.curl("/api2/json/version")[0], 401)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)

    def test_hang_holds_chunks_without_blocking_other_streams(self):
        client = self.open_vm100()
        self.server.faults(hang_chunks=True)
        held = [client.send(f"/chunk?digest={d}") for d in ENV.vm100_digests[:2]]
        # Other streams of the connection are served while the chunks are held.
        self.assertEqual(client.get("/download?file-name=index.json.blob").status, 200)
        self.assertEqual(client.get("/speedtest").status, 200)
        self.assertFalse(any(client.responses[s].done for s in held))
        self.server.faults(hang_chunks=False)
        for response in client.wait(held):
            self.assertEqual(response.status, 200)

    def test_drop_connection_after_chunks(self):
        client = self.open_vm100()
        self.server.faults(drop_connection_after_chunks=2)
        for digest in ENV.vm100_digests[:2]:
            self.assertEqual(client.get(f"/chunk?digest={digest}").status, 200)
        third = client.send(f"/chunk?digest={ENV.vm100_digests[2]}")
        client.wait([third], until_closed=True)
        self.assertTrue(client.closed)
        self.assertIsNone(client.goaway)  # closed without GOAWAY
        self.assertFalse(client.responses[third].done)
        # One-shot: a new session works.
        self.assertEqual(self.open_vm100().get(
            f"/chunk?digest={ENV.vm100_digests[2]}").status, 200)

    def test_reset_connection_after_chunks(self):
        client = self.open_vm100()
        self.server.faults(reset_connection_after_chunks=1)
        self.assertEqual(client.get(f"/chunk?digest={ENV.vm100_digests[0]}").status, 200)
        second = client.send(f"/chunk?digest={ENV.vm100_digests[1]}")
        client.wait([second], until_closed=True)
        self.assertTrue(client.closed)
        self.assertIsNone(client.goaway)

    def test_goaway_after_chunks(self):
        client = self.open_vm100()
        self.server.faults(goaway_after_chunks=1)
        # Both requests arrive before the first answer, so both are below the GOAWAY's mark.
        ids = client.send_many([f"/chunk?digest={d}" for d in ENV.vm100_digests[:2]])
        client.wait(ids, until_closed=True)
        self.assertIsNotNone(client.goaway)
        self.assertEqual(client.goaway.error_code, h2.errors.ErrorCodes.NO_ERROR)
        self.assertGreaterEqual(client.goaway.last_stream_id, max(ids))
        for response in (client.responses[s] for s in ids):
            self.assertEqual(response.status, 200)
            self.assertTrue(response.ended)
        self.assertTrue(client.closed)

    def test_rst_stream_after_chunks(self):
        client = self.open_vm100()
        self.server.faults(rst_stream_after_chunks=1)
        digests = ENV.vm100_digests
        self.assertEqual(client.get(f"/chunk?digest={digests[0]}").status, 200)
        reset = client.get(f"/chunk?digest={digests[1]}")
        self.assertEqual(reset.reset_code, h2.errors.ErrorCodes.INTERNAL_ERROR)
        self.assertFalse(reset.ended)
        self.assertLess(len(reset.body), len(read_file(chunk_file(ENV.store, digests[1]))))
        # The connection goes on and the fault fired once.
        again = client.get(f"/chunk?digest={digests[1]}")
        self.assertEqual(bytes(again.body), read_file(chunk_file(ENV.store, digests[1])))

    def test_corrupt_chunks(self):
        client = self.open_vm100()
        bad, good = ENV.vm100_digests[1], ENV.vm100_digests[2]
        self.server.faults(corrupt_chunks=[bad])
        served = bytes(client.get(f"/chunk?digest={bad}").body)
        on_disk = read_file(chunk_file(ENV.store, bad))
        self.assertEqual(len(served), len(on_disk))
        self.assertEqual(sum(a != b for a, b in zip(served, on_disk)), 1)
        self.assertNotEqual(zlib.crc32(served[12:]), int.from_bytes(served[8:12], "little"))
        self.assertEqual(bytes(client.get(f"/chunk?digest={good}").body),
                         read_file(chunk_file(ENV.store, good)))

    def test_missing_chunks_fault(self):
        client = self.open_vm100()
        digest = ENV.vm100_digests[3]
        self.server.faults(missing_chunks=[digest])
        response = client.get(f"/chunk?digest={digest}")
        self.assertEqual(response.status, 400)
        self.assertTrue(bytes(response.body).startswith(b"reading file"))
        self.server.control("POST", "/reset")
        self.assertEqual(client.get(f"/chunk?digest={digest}").status, 200)

    def test_control_answers_expect_100_continue(self):
        digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(200)]
        body = json.dumps({"corrupt_chunks": digests}).encode()
        with socket.create_connection(("127.0.0.1", self.server.control_port),
                                      timeout=IO_TIMEOUT) as sock:
            sock.sendall(f"POST /faults HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            interim = b""
            while b"\r\n\r\n" not in interim:
                interim += sock.recv(4096)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 "), interim)
            sock.sendall(body)
            final = interim.split(b"\r\n\r\n", 1)[1]
            while b"\r\n\r\n" not in final:
                data = sock.recv(4096)
                self.assertTrue(data, "no answer after the body")
                final += data
            self.assertTrue(final.startswith(b"HTTP/1.1 200 "), final)
        self.assertEqual(len(self.server.control("GET", "/faults")["corrupt_chunks"]), 200)

    def test_faults_from_the_command_line(self):
        server = ENV.start_server("--faults", '{"chunk_latency_ms": 20, "missing_chunks": ["AB"]}')
        try:
            faults = server.control("GET", "/faults")
            self.assertEqual(faults["chunk_latency_ms"], 20)
            self.assertEqual(faults["missing_chunks"], ["ab"])
        finally:
            server.stop()

    def test_unknown_fault_is_refused(self):
        result = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data",
             '{"chunk_latency": 1}', f"http://127.0.0.1:{self.server.control_port}/faults"],
            capture_output=True, text=True, timeout=IO_TIMEOUT)
        self.assertEqual(result.stdout, "400")


class ConcurrencyTest(ServerTestCase):
    def test_streams_beyond_the_limit_are_refused(self):
        server = ENV.start_server("--max-concurrent-streams", "3")
        try:
            client = self.reader(server=server)
            client.get("/download?file-name=drive-scsi0.img.fidx")
            self.assertEqual(
                client.server_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS], 3)
            server.faults(hang_chunks=True)
            held = [client.send(f"/chunk?digest={d}") for d in ENV.vm100_digests[:3]]
            # Step over python-h2's own client-side limit to open a fourth stream.
            client.conn.remote_settings.max_concurrent_streams = 100
            client.conn.remote_settings.acknowledge()
            extra = client.send(f"/chunk?digest={ENV.vm100_digests[3]}")
            refused = client.wait([extra])[0]
            self.assertEqual(refused.reset_code, h2.errors.ErrorCodes.REFUSED_STREAM)
            self.assertFalse(any(client.responses[s].done for s in held))
            stats = server.stats()
            self.assertEqual(stats["max_streams_in_flight"], 3)
            self.assertEqual(stats["streams_refused"], 1)
            server.faults(hang_chunks=False)
            for response in client.wait(held):
                self.assertEqual(response.status, 200)
            # The connection survived the refusal.
            self.assertEqual(client.get(f"/chunk?digest={ENV.vm100_digests[3]}").status, 200)
        finally:
            server.stop()

    def test_many_streams_in_flight_on_one_connection(self):
        client = self.open_vm100()
        self.server.control("POST", "/reset-stats")
        self.server.faults(hang_chunks=True)
        digests = ENV.vm100_digests * 8
        ids = client.send_many([f"/chunk?digest={d}" for d in digests])
        deadline = time.monotonic() + IO_TIMEOUT
        while self.server.stats()["chunk_requests"] < len(digests):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertEqual(self.server.stats()["max_streams_in_flight"], len(digests))
        self.server.faults(hang_chunks=False, chunk_latency_ms=20)
        for digest, response in zip(digests, client.wait(ids)):
            self.assertEqual(response.status, 200)
            self.assertEqual(bytes(response.body), read_file(chunk_file(ENV.store, digest)))


class NghttpInteropTest(ServerTestCase):
    """curl's HTTP/2 is libnghttp2, the library of the C++ client: through the server's debug
    port (HTTP/2 right after TLS, no upgrade) it drives the same session code with many
    streams multiplexed on one connection."""

    def start_direct_server(self, *extra_args):
        port_file = os.path.join(tempfile.mkdtemp(dir=ENV.scratch), "direct-port")
        server = ENV.start_server("--direct-session", "store1:vm/100/2026-01-01T00:00:00Z",
                                  "--direct-session-port-file", port_file, *extra_args)
        return server, int(read_file(port_file))

    def curl_chunks(self, port, digests, out):
        command = ["curl", "-sS", "--http2", "--parallel", "--parallel-max", "64",
                   "--max-time", str(IO_TIMEOUT), "--cacert", ENV.cert,
                   "--resolve", f"localhost:{port}:127.0.0.1", "-w", "%{http_code}\n"]
        for i, digest in enumerate(digests):
            command += [f"https://localhost:{port}/chunk?digest={digest}",
                        "-o", os.path.join(out, f"{i}")]
        return command

    def test_curl_respects_max_concurrent_streams(self):
        server, port = self.start_direct_server("--max-concurrent-streams", "4")
        try:
            out = tempfile.mkdtemp(dir=ENV.scratch, prefix="curl-")
            digests = ENV.vm100_digests * 4
            server.faults(chunk_latency_ms=50)
            result = subprocess.run(self.curl_chunks(port, digests, out), capture_output=True,
                                    timeout=IO_TIMEOUT + 5)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.decode().split(), ["200"] * len(digests))
            # The limit holds from the first stream, as with hyper: streams that curl opens
            # before it has read the SETTINGS are refused, and curl retries them.
            self.assertLessEqual(server.stats()["max_streams_in_flight"], 4)
            for i, digest in enumerate(digests):
                self.assertEqual(read_file(os.path.join(out, f"{i}")),
                                 read_file(chunk_file(ENV.store, digest)))
        finally:
            server.stop()

    def test_curl_multiplexes_chunks(self):
        server, port = self.start_direct_server()
        try:
            out = tempfile.mkdtemp(dir=ENV.scratch, prefix="curl-")
            digests = ENV.vm100_digests * 8
            command = self.curl_chunks(port, digests, out)
            command += [f"https://localhost:{port}/speedtest", "-o", os.path.join(out, "speed")]
            server.faults(hang_chunks=True)
            curl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + IO_TIMEOUT
                while server.stats()["chunk_requests"] < len(digests):
                    self.assertLess(time.monotonic(), deadline, "curl did not send every request")
                    time.sleep(0.05)
                server.faults(hang_chunks=False)
                stdout, stderr = curl.communicate(timeout=IO_TIMEOUT)
            finally:
                curl.kill()
            self.assertEqual(curl.returncode, 0, stderr)
            self.assertEqual(stdout.decode().split(), ["200"] * (len(digests) + 1))
            for i, digest in enumerate(digests):
                self.assertEqual(read_file(os.path.join(out, f"{i}")),
                                 read_file(chunk_file(ENV.store, digest)))
            self.assertEqual(read_file(os.path.join(out, "speed")), b"A" * (1 << 20))
            stats = server.stats()
            self.assertEqual(stats["connections"], 1)
            self.assertEqual(stats["max_streams_in_flight"], len(digests))
        finally:
            server.stop()


class CliDatastoreTest(ServerTestCase):
    """Datastores written by the project's CLI (`chunkcache datastore create`) are served as
    written: the layout the C++ datastore code and this server agree on."""

    def test_cli_written_datastore(self):
        if not ARGS.chunkcache:
            self.skipTest("no --chunkcache")
        cli = ARGS.chunkcache
        root = tempfile.mkdtemp(dir=ENV.scratch, prefix="cli-store-")
        image = pseudo_random("cli-image", 9 * 1024 * 1024 + 4321)
        image_path = os.path.join(root, "image.bin")
        with open(image_path, "wb") as f:
            f.write(image)
        store, key = os.path.join(root, "store"), os.path.join(root, "key.json")
        for command in (["key", "create", "--out", key],
                        ["datastore", "create", "--path", store, "--snapshot",
                         "vm/300/2026-02-01T00:00:00Z", "--archive", "drive-scsi0.img.fidx",
                         "--image", image_path],
                        ["datastore", "create", "--path", store, "--snapshot",
                         "ns/x/ns/y/ct/301/2026-02-01T00:00:00Z", "--archive", "root.pxar.didx",
                         "--stream", image_path, "--keyfile", key]):
            subprocess.run([cli, *command], check=True, capture_output=True, timeout=120)
        server = ServerProcess(ENV.scratch, ENV.cert, ENV.key, {"clistore": store}, CREDENTIALS)
        try:
            client = self.reader(server=server, store="clistore", backup_id="300",
                                 backup_time=1769904000)
            manifest = json.loads(decode_plain_blob(
                bytes(client.get("/download?file-name=index.json.blob").body)))
            self.assertEqual(manifest["files"][0]["filename"], "drive-scsi0.img.fidx")
            index = bytes(client.get("/download?file-name=drive-scsi0.img.fidx").body)
            digests = [index[i:i + 32].hex() for i in range(4096, len(index), 32)]
            ids = client.send_many([f"/chunk?digest={d}" for d in digests])
            restored = b"".join(decode_plain_blob(bytes(r.body)) for r in client.wait(ids))
            self.assertEqual(restored, image)

            encrypted = self.reader(server=server, store="clistore", ns="x/y",
                                    backup_type="ct", backup_id="301", backup_time=1769904000)
            index = bytes(encrypted.get("/download?file-name=root.pxar.didx").body)
            for offset in range(4096, len(index), 40):
                digest = index[offset + 8:offset + 40].hex()
                body = bytes(encrypted.get(f"/chunk?digest={digest}").body)
                self.assertEqual(body, read_file(chunk_file(store, digest)))
                self.assertIn(body[:8].hex(), ("7b6785be222d4cf0", "e6591bbf0bbfd80b"))
            status, _, body = server.curl("/api2/json/admin/datastore/clistore/snapshots?ns=x/y",
                                          "-H", f"Authorization: {token_header()}")
            files = {f["filename"]: f for f in json.loads(body)["data"][0]["files"]}
            self.assertEqual(files["root.pxar.didx"]["crypt-mode"], "encrypt")
            self.assertEqual(files["root.pxar.didx"]["size"], len(image))
        finally:
            server.stop()


class RobustnessTest(ServerTestCase):
    def wait_for_stats(self, server, predicate):
        """Polls the counters until `predicate` holds (bounded; the server settles async)."""
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            stats = server.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)

    def test_client_cancels_a_stream(self):
        client = self.open_vm100()
        self.server.faults(hang_chunks=True)
        cancelled = client.send(f"/chunk?digest={ENV.vm100_digests[0]}")
        client.conn.reset_stream(cancelled, h2.errors.ErrorCodes.CANCEL)
        client._flush()
        self.server.faults(hang_chunks=False)
        response = client.get(f"/chunk?digest={ENV.vm100_digests[1]}")
        self.assertEqual(bytes(response.body), read_file(chunk_file(ENV.store,
                                                                    ENV.vm100_digests[1])))
        self.assertIsNone(client.responses[cancelled].status)

    def test_client_vanishes_with_streams_in_flight(self):
        before = self.server.stats()["sessions_open"]
        client = self.open_vm100()
        self.server.faults(hang_chunks=True)
        client.send_many([f"/chunk?digest={d}" for d in ENV.vm100_digests])
        client.wait([client.send("/speedtest")])
        client.tls.close()
        stats = self.wait_for_stats(self.server, lambda s: s["sessions_open"] == before)
        self.assertEqual(stats["sessions_open"], before)
        self.server.faults(hang_chunks=False)
        self.assertEqual(self.open_vm100().get(
            f"/chunk?digest={ENV.vm100_digests[0]}").status, 200)

    def test_garbage_after_the_upgrade_ends_only_that_session(self):
        client = self.reader()
        client.tls.sendall(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00garbage garbage garbage")
        client.wait([], until_closed=True)
        self.assertTrue(client.closed)
        self.assertEqual(self.open_vm100().get(
            f"/chunk?digest={ENV.vm100_digests[0]}").status, 200)

    def test_garbage_instead_of_a_request(self):
        tls = tls_connect(self.server.port, ENV.cert)
        tls.sendall(b"\x16\x03garbage\r\n\r\n")
        status, _, _, _ = read_http1_answer(tls)
        tls.close()
        self.assertEqual(status, 400)
        self.assertEqual(self.server.curl("/api2/json/version", "-H",
                                          f"Authorization: {token_header()}")[0], 200)

    def test_restart_on_the_same_port(self):
        server = ENV.start_server()
        restarted = None
        try:
            client = self.open_vm100(server)
            self.assertEqual(client.get(f"/chunk?digest={ENV.vm100_digests[0]}").status, 200)
            server.stop()  # SIGTERM with a session open: the process ends by itself
            self.assertEqual(server.process.returncode, 0)
            client.wait([], until_closed=True)
            restarted = ENV.start_server("--listen", f"127.0.0.1:{server.port}")
            self.assertEqual(restarted.port, server.port)
            self.assertEqual(self.open_vm100(restarted).get(
                f"/chunk?digest={ENV.vm100_digests[0]}").status, 200)
        finally:
            server.stop()
            if restarted:
                restarted.stop()


class SegmentedOutputTest(unittest.TestCase):
    """The server's DATA frames skip python-h2's serializer (pbs_h2_output.py): the bytes on
    the wire must be exactly what h2 itself would have sent, in the same order."""

    @staticmethod
    def exchange(conn, body):
        """A client asks for one resource with 1 MiB frames; `conn` answers with `body` in
        frames of the client's size, with a PING answer and a second stream interleaved."""
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        client.initiate_connection()
        client.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: 1 << 20,
                                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        client.increment_flow_control_window(2**31 - 1 - 65535)
        headers = [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                   (":path", "/chunk")]
        client.send_headers(1, headers, end_stream=True)
        client.send_headers(3, headers, end_stream=True)
        client.ping(b"12345678")
        conn.initiate_connection()
        conn.receive_data(client.data_to_send())
        conn.send_headers(1, [(":status", "200"), ("content-length", str(len(body)))])
        view = memoryview(body)
        frame = conn.max_outbound_frame_size
        for start in range(0, len(body), frame):
            conn.send_data(1, view[start:start + frame],
                           end_stream=start + frame >= len(body))
            if start == 0:
                conn.send_headers(3, [(":status", "404")], end_stream=True)
        return conn

    def test_wire_bytes_are_what_h2_sends(self):
        body = pseudo_random(7, 2 * (1 << 20) + 12345)
        config = h2.config.H2Configuration(client_side=False)
        plain = self.exchange(h2.connection.H2Connection(config), body)
        expected = plain.data_to_send()
        segmented = self.exchange(SegmentedOutputConnection(config), body)
        segments = segmented.take_output()
        self.assertEqual(b"".join(segments), expected)
        self.assertEqual(segmented.take_output(), [])
        # The payloads went out as views of the body itself, not copies.
        views = [s for s in segments if isinstance(s, memoryview)]
        self.assertEqual(len(views), 3)
        self.assertTrue(all(v.obj is body for v in views))
        self.assertEqual(sum(len(v) for v in views), len(body))

    def test_data_to_send_keeps_the_order_too(self):
        body = pseudo_random(8, 100000)
        config = h2.config.H2Configuration(client_side=False)
        plain = self.exchange(h2.connection.H2Connection(config), body)
        expected = plain.data_to_send()
        segmented = self.exchange(SegmentedOutputConnection(config), body)
        first = segmented.data_to_send(1000)
        self.assertEqual(len(first), 1000)
        self.assertEqual(first + segmented.data_to_send(), expected)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", help="the spec's vectors/datastore directory")
    parser.add_argument("--scratch", help="where to put temporary files")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--chunkcache", help="the project's CLI, to write datastores with")
    ARGS, rest = parser.parse_known_args()
    program = unittest.main(argv=[sys.argv[0], *rest], verbosity=2, exit=False)
    if ENV:
        if not program.result.wasSuccessful():
            print(f"--- shared server log (tail) ---\n{ENV.server.log()[-6000:]}",
                  file=sys.stderr)
        if not ARGS.keep:
            shutil.rmtree(ENV.scratch, ignore_errors=True)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
