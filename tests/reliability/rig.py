#!/usr/bin/python3
"""The test rig of the reliability suite: real chunkcached processes on loopback and the
datastores they serve, made with `chunkcache datastore create` from images whose bytes the
load driver keeps, so every byte a server returns can be compared with its source.

    rig = Rig(bin_dir, scratch)
    store = rig.datastore("ds", [ArchiveImage(100, chunks=16, seed=1)])
    server = rig.server("solo", ["--datastore", "store=" + store.path, "--cache-bytes", "96MiB"])
    server.wait_serving()
    server.metric("chunkcache_cache_bytes", {"kind": "pinned"})
    server.kill(signal.SIGKILL); server.restart()

Only the standard library and Debian's python3-grpcio (for the health check); the API types are
generated from proto/ at run time by tests/service/python_client.py.
"""

import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service"))
from python_client import generate_stubs, health_messages  # noqa: E402

CHUNK = 4 << 20
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAX_MESSAGE = 64 << 20
SERVING = 1  # grpc.health.v1.HealthCheckResponse.ServingStatus


def api(scratch):
    """The generated chunkcache_pb2 and chunkcache_pb2_grpc modules."""
    return generate_stubs(os.path.join(SOURCE_DIR, "proto"), os.path.join(scratch, "stubs"))


def free_port():
    """A loopback TCP port that was free a moment ago (for servers restarted on one address)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ArchiveImage:
    """A disk image of `chunks` 4 MiB chunks: pseudo-random bytes, every fourth chunk zero (the
    zero chunk is the most referenced, so it is hinted first), and one random chunk twice (the
    second hinted chunk). Only the zero chunk is shared between images of different seeds."""

    def __init__(self, backup_id, chunks, seed):
        self.backup_id = backup_id
        self.snapshot = "vm/%d/2026-01-01T00:00:00Z" % backup_id
        self.archive = "drive-scsi0.img.fidx"
        rng = random.Random(seed)
        twin = rng.randbytes(CHUNK)
        pieces = []
        for i in range(chunks):
            if i % 4 == 2:
                pieces.append(bytes(CHUNK))
            elif i in (1, chunks - 1):
                pieces.append(twin)
            else:
                pieces.append(rng.randbytes(CHUNK))
        self.data = b"".join(pieces)
        self.view = memoryview(self.data)
        self.size = len(self.data)
        self.digests = [hashlib.sha256(piece).hexdigest() for piece in pieces]

    def digests_of(self, offset, length):
        """Digests of the chunks that bytes [offset, offset + length) lie in."""
        if length <= 0 or offset >= self.size:
            return set()
        last = min(offset + length, self.size) - 1
        return set(self.digests[offset // CHUNK:last // CHUNK + 1])

    def hinted_digests(self, max_chunks=16):
        """The hinted set chunkcached chooses for this archive: digests referenced at least
        twice, most referenced first (the zero chunk, then the twin), at most max_chunks."""
        counts = {}
        for digest in self.digests:
            counts[digest] = counts.get(digest, 0) + 1
        repeated = sorted((d for d, n in counts.items() if n >= 2), key=lambda d: -counts[d])
        return repeated[:max_chunks]

    def ref(self, pb2, datastore="store"):
        return pb2.SnapshotRef(datastore=datastore, backup_type="vm",
                               backup_id=str(self.backup_id), backup_time=1767225600,
                               archive=self.archive)


class Datastore:
    def __init__(self, path, archives):
        self.path = path
        self.archives = archives

    def chunk_file(self, digest):
        return os.path.join(self.path, ".chunks", digest[:4], digest)


class Server:
    """One chunkcached (or another program taking its flags) on 127.0.0.1: a fixed gRPC port,
    so clients reconnect to a restarted process; the metrics port is the kernel's choice."""

    def __init__(self, rig, name, args, program="chunkcached"):
        self.rig = rig
        self.name = name
        self.args = list(args)
        self.program = os.path.join(rig.bin_dir, program)
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.process = None
        self.metrics_port = None
        self.starts = 0
        self.stopped = False

    def log_path(self, start=None):
        return os.path.join(self.rig.scratch, "%s.%d.log" % (self.name, start or self.starts))

    def start(self):
        """Spawns the process and waits for its port file; the monotonic time it was spawned."""
        self.starts += 1
        ports = os.path.join(self.rig.scratch, "%s.ports" % self.name)
        if os.path.exists(ports):
            os.unlink(ports)
        argv = [self.program, "--listen", self.address, "--metrics-listen", "127.0.0.1:0",
                "--port-file", ports] + self.args
        spawned = time.monotonic()
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                        stderr=open(self.log_path(), "w"))
        self.stopped = False
        while time.monotonic() < spawned + 60:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited with %d:\n%s" % (self.name, self.process.returncode,
                                                              self.log()))
            if os.path.exists(ports):
                values = dict(line.strip().split("=", 1) for line in open(ports) if "=" in line)
                if "metrics_port" in values:
                    self.metrics_port = int(values["metrics_port"])
                    return spawned
            time.sleep(0.005)
        raise RuntimeError("%s did not listen within 60 s" % self.name)

    def wait_serving(self, timeout=60):
        """Polls grpc.health.v1 until SERVING; the monotonic time it first answered so."""
        Request, Response = health_messages()
        give_up = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=Request.SerializeToString,
                                        response_deserializer=Response.FromString)
            while time.monotonic() < give_up:
                try:
                    if check(Request(service=""), timeout=1).status == SERVING:
                        return time.monotonic()
                except grpc.RpcError:
                    pass
                time.sleep(0.005)
        raise RuntimeError("%s not SERVING within %d s" % (self.name, timeout))

    def log(self, start=None):
        with open(self.log_path(start), errors="replace") as log:
            return log.read()

    @property
    def pid(self):
        return self.process.pid

    def send(self, sig):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` and waits for the exit; the exit code."""
        self.send(sig)
        self.stopped = True
        return self.process.wait(timeout=60)

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.read().decode()

    def metric(self, name, labels=None, text=None):
        """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
        text = self.metrics() if text is None else text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if not match or match.group(1) != name:
                continue
            found = dict(re.findall(r'([a-zA-Z_]+)="([^"]*)"', match.group(2) or ""))
            if all(found.get(k) == v for k, v in (labels or {}).items()):
                total += float(match.group(3))
        return total

    def status_kib(self, field="RssAnon"):
        with open("/proc/%d/status" % self.pid) as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))


class Rig:
    def __init__(self, bin_dir, scratch):
        self.bin_dir = bin_dir
        self.scratch = scratch
        self.servers = []

    def datastore(self, name, archives):
        """A datastore directory holding `archives` (ArchiveImage), made by the CLI."""
        path = os.path.join(self.scratch, name)
        for image in archives:
            image_path = os.path.join(self.scratch, "image.%d" % image.backup_id)
            with open(image_path, "wb") as out:
                out.write(image.data)
            subprocess.run([os.path.join(self.bin_dir, "chunkcache"), "datastore", "create",
                            "--path", path, "--snapshot", image.snapshot, "--archive",
                            image.archive, "--image", image_path], check=True,
                           stdout=subprocess.DEVNULL)
            os.unlink(image_path)
        return Datastore(path, archives)

    def server(self, name, args, program="chunkcached"):
        """A started server (not yet necessarily SERVING), its arena in scratch/NAME.cache
        unless `args` names a --cache-dir."""
        if "--cache-dir" not in args:
            args = list(args) + ["--cache-dir", os.path.join(self.scratch, name + ".cache")]
        server = Server(self, name, args, program)
        server.start()
        self.servers.append(server)
        return server

    def close(self):
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.send(signal.SIGCONT)
                server.send(signal.SIGKILL)
                server.process.wait(timeout=30)


def channel(address):
    return grpc.insecure_channel(address, options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE)])
