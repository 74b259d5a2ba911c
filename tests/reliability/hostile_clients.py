#!/usr/bin/python3
"""The client-side scenarios of the reliability suite (see reliability_run.py).

clients: 16 clients (one connection each) start a StreamRange at different offsets and stop
reading, 4 more read theirs at 1 MB/s, a small mixed load runs, and a prober makes cold 4 KiB
ReadRange calls, one chunk after another, in an archive nobody else reads: none may fail, and
their latency is recorded (the issue's acceptance: under a second).
hostile: while the mixed load runs, many sessions are opened (one per snapshot of a datastore of
many small snapshots), huge Prefetch requests are sent, and thousands of connections are opened
and dropped (raw TCP with a partial or garbage HTTP/2 preface, and gRPC channels closed in the
middle of a stream). The server must keep serving the load with no unexpected status.
"""

import os
import random
import socket
import subprocess
import threading
import time

import grpc

from mixed_load import MixedLoad, percentile
from rig import CHUNK, ArchiveImage, channel
from soak_and_crash import (distinct_bytes, load_archives, open_sessions, pins_after_load,
                            server_counters, with_idle_timeout)
from server_sampler import ServerSampler

MIB = 1 << 20


class StalledStream:
    """A client on its own connection that starts a whole-archive StreamRange at `offset`,
    takes one message, then reads on at `rate` bytes/s (0: never)."""

    def __init__(self, pb2, pb2_grpc, address, archive, offset, rate):
        self.channel = channel(address)
        stub = pb2_grpc.ChunkCacheStub(self.channel)
        self.call = stub.StreamRange(pb2.ReadRangeRequest(snapshot=archive.ref(pb2),
                                                          offset=offset, length=0), timeout=600)
        self.archive, self.offset, self.rate = archive, offset, rate
        self.received = 0
        self.started = time.monotonic()
        self.seconds = None  # how long it was open, once closed
        self.wrong = 0
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for reply in self.call:
                at = reply.offset
                if at != self.offset + self.received or \
                        self.archive.view[at:at + len(reply.data)] != reply.data:
                    self.wrong += 1
                self.received += len(reply.data)
                if self.rate == 0:
                    return  # stalled: the call stays open, nothing more is read
                time.sleep(len(reply.data) / self.rate)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.error = "%s %s" % (error.code().name, error.details())

    def close(self):
        self.seconds = time.monotonic() - self.started
        self.call.cancel()
        self.thread.join(timeout=30)
        self.channel.close()


def run_clients(rig, pb2, pb2_grpc, options):
    archives = load_archives(options)
    cold = ArchiveImage(199, options.chunks, seed=99)  # only the prober reads it
    store = rig.datastore("ds", archives + [cold])
    server = rig.server("clients", with_idle_timeout(rig, options, [
        "--datastore", "store=" + store.path, "--cache-bytes", options.cache_bytes,
        "--log-level", "warn"]))
    server.wait_serving()
    infos = open_sessions(pb2, pb2_grpc, server, archives + [cold])
    sampler = ServerSampler(server, interval=0.5)
    sampler.start()
    load = MixedLoad(pb2, pb2_grpc, server.address, archives, options.callers)
    load.start()
    stalled = [StalledStream(pb2, pb2_grpc, server.address, archives[i % len(archives)],
                             (i // len(archives)) * CHUNK % archives[0].size, 0)
               for i in range(16)]
    slow = [StalledStream(pb2, pb2_grpc, server.address, archives[i % len(archives)],
                          i * CHUNK, 1_000_000) for i in range(4)]
    time.sleep(min(3.0, options.seconds / 4))  # the stalled streams' readahead is under way

    probes, failures = [], []
    with channel(server.address) as ch:
        stub = pb2_grpc.ChunkCacheStub(ch)
        deadline = time.monotonic() + options.seconds
        rng = random.Random(5)
        for index in range(len(cold.digests)):
            if time.monotonic() > deadline:
                break
            offset = index * CHUNK + rng.randrange(0, CHUNK - 4096)
            start = time.monotonic()
            try:
                reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=cold.ref(pb2), offset=offset,
                                                            length=4096), timeout=30)
                if reply.offset != offset or cold.view[offset:offset + 4096] != reply.data:
                    failures.append("chunk %d: WRONG BYTES" % index)
            except grpc.RpcError as error:
                failures.append("chunk %d: %s %s" % (index, error.code().name, error.details()))
            probes.append(time.monotonic() - start)
            time.sleep(max(0.0, options.seconds / len(cold.digests) - probes[-1]))
    stalled_errors = [s.error for s in stalled + slow if s.error]
    stalled_wrong = sum(s.wrong for s in stalled + slow)
    for client in stalled + slow:
        client.close()
    stuck = load.stop()
    sampler.stop()
    result = {
        "scenario": "clients",
        "seconds": options.seconds,
        "cache_bytes": options.cache_bytes,
        "working_set_mib": distinct_bytes(archives + [cold]) / MIB,
        "stalled_streams": len(stalled),
        "slow_streams": len(slow),
        "slow_stream_mb_per_s": round(sum(s.received / s.seconds for s in slow) / len(slow)
                                      / 1e6, 3),
        "stream_errors": stalled_errors[:10],
        "stream_wrong_messages": stalled_wrong,
        "cold_probes": len(probes),
        "cold_probe_failures": failures[:10],
        "cold_probe_failed": len(failures),
        "cold_probe_max_ms": round(max(probes) * 1e3, 1) if probes else None,
        "cold_probe_p50_ms": round(percentile(probes, 0.5) * 1e3, 1) if probes else None,
        "load": load.summary(),
        "callers_still_running": stuck,
        "memory": sampler.summary(warmup_seconds=0),
        "server": server_counters(server),
    }
    result.update(pins_after_load(server, archives + [cold], infos, options))
    result["server_alive"] = server.process.poll() is None
    return result


def many_snapshots(rig, count):
    """A datastore "many" of `count` small snapshots (64 KiB images, distinct bytes), made by
    eight `chunkcache datastore create` at a time."""
    path = os.path.join(rig.scratch, "many")
    rng = random.Random(3)
    for first in range(0, count, 8):
        batch = []
        for i in range(first, min(count, first + 8)):
            image = os.path.join(rig.scratch, "small.%d.img" % i)
            with open(image, "wb") as out:
                out.write(rng.randbytes(64 << 10))
            batch.append(subprocess.Popen(
                [os.path.join(rig.bin_dir, "chunkcache"), "datastore", "create", "--path", path,
                 "--snapshot", "vm/%d/2026-01-01T00:00:00Z" % (1000 + i), "--archive",
                 "drive-scsi0.img.fidx", "--image", image], stdout=subprocess.DEVNULL))
        for process in batch:
            if process.wait() != 0:
                raise RuntimeError("chunkcache datastore create failed")
    return path


def drop_connections(address, count, rng):
    """Opens `count` TCP connections that send a partial HTTP/2 preface or garbage, then
    close (half of them with a reset); the number that connected."""
    host, port = address.rsplit(":", 1)
    connected = 0
    for i in range(count):
        try:
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                connected += 1
                if i % 3 == 0:
                    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM")  # cut short
                elif i % 3 == 1:
                    sock.sendall(rng.randbytes(rng.randrange(1, 512)))
                if i % 2 == 0:  # RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        except OSError:
            pass
    return connected


def run_hostile(rig, pb2, pb2_grpc, options):
    archives = load_archives(options)
    store = rig.datastore("ds", archives)
    many = many_snapshots(rig, options.sessions)
    server = rig.server("hostile", with_idle_timeout(rig, options, [
        "--datastore", "store=" + store.path, "--datastore", "many=" + many, "--cache-bytes",
        options.cache_bytes, "--log-level", "warn"]))
    server.wait_serving()
    infos = open_sessions(pb2, pb2_grpc, server, archives)
    fds_before = server.open_fds()
    sampler = ServerSampler(server)
    sampler.start()
    load = MixedLoad(pb2, pb2_grpc, server.address, archives, options.callers)
    load.start()
    bad_inputs = {}
    hostile_unexpected = []

    def tally(kind, code, allowed, detail=""):
        bad_inputs.setdefault(kind, {}).setdefault(code, 0)
        bad_inputs[kind][code] += 1
        if code not in allowed and len(hostile_unexpected) < 10:
            hostile_unexpected.append("%s %s %s" % (kind, code, detail[:200]))

    # Many sessions: every small snapshot opened and read, from 8 threads.
    def open_and_read(numbers):
        with channel(server.address) as ch:
            stub = pb2_grpc.ChunkCacheStub(ch)
            for n in numbers:
                ref = pb2.SnapshotRef(datastore="many", backup_type="vm", backup_id=str(1000 + n),
                                      backup_time=1767225600, archive="drive-scsi0.img.fidx")
                try:
                    stub.StatSnapshot(pb2.StatSnapshotRequest(snapshot=ref), timeout=30)
                    reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=ref, offset=0,
                                                                length=4096), timeout=30)
                    code = "OK" if len(reply.data) == 4096 else "SHORT"
                except grpc.RpcError as error:
                    code = error.code().name
                tally("session", code, ("OK", "RESOURCE_EXHAUSTED"))
    started = time.monotonic()
    threads = [threading.Thread(target=open_and_read, args=(range(i, options.sessions, 8),))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sessions_seconds = time.monotonic() - started
    sessions_open = server.metric("chunkcache_snapshots_open")

    # Huge Prefetch requests: many ranges of 2^63 bytes each, and one of 2^64 - 1.
    prefetch_seconds = []
    with channel(server.address) as ch:
        stub = pb2_grpc.ChunkCacheStub(ch)
        rng = random.Random(11)
        for attempt in range(options.huge_prefetches):
            archive = archives[attempt % len(archives)]
            length = (1 << 64) - 1 if attempt == 0 else 1 << 63
            ranges = [pb2.ByteRange(offset=rng.randrange(0, archive.size), length=length)
                      for _ in range(50_000)]
            start = time.monotonic()
            try:
                stub.Prefetch(pb2.PrefetchRequest(snapshot=archive.ref(pb2), ranges=ranges),
                              timeout=20)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            prefetch_seconds.append(time.monotonic() - start)
            tally("huge_prefetch", code, ("OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"))

    # Connections opened and dropped: raw TCP, and gRPC channels closed mid-stream.
    rng = random.Random(13)
    connected = drop_connections(server.address, options.connections, rng)
    dropped_streams = 0
    for i in range(options.connections // 10):
        ch = channel(server.address)
        stub = pb2_grpc.ChunkCacheStub(ch)
        archive = archives[i % len(archives)]
        call = stub.StreamRange(pb2.ReadRangeRequest(snapshot=archive.ref(pb2), offset=0,
                                                     length=0), timeout=30)
        try:
            next(call)
            dropped_streams += 1
        except grpc.RpcError as error:
            tally("dropped_stream", error.code().name, ())
        ch.close()  # cancels the stream without reading on
    time.sleep(max(0.0, options.seconds - (time.monotonic() - load.started_at)))
    stuck = load.stop()
    sampler.stop()

    give_up = time.monotonic() + 15
    while server.open_fds() > fds_before + 8 and time.monotonic() < give_up:
        time.sleep(0.2)
    result = {
        "scenario": "hostile",
        "seconds": round(time.monotonic() - load.started_at, 1),
        "cache_bytes": options.cache_bytes,
        "working_set_mib": distinct_bytes(archives) / MIB,
        "sessions_tried": options.sessions,
        "sessions_seconds": round(sessions_seconds, 2),
        "snapshots_open_after": sessions_open,
        "huge_prefetches": len(prefetch_seconds),
        "huge_prefetch_max_s": round(max(prefetch_seconds), 3) if prefetch_seconds else None,
        "connections_dropped": connected,
        "streams_dropped": dropped_streams,
        "bad_inputs": bad_inputs,
        "hostile_unexpected": hostile_unexpected,
        "fds_before": fds_before,
        "fds_after": server.open_fds(),
        "load": load.summary(),
        "callers_still_running": stuck,
        "memory": sampler.summary(warmup_seconds=0),
        "server": server_counters(server),
    }
    result.update(pins_after_load(server, archives, infos, options))
    result["server_alive"] = server.process.poll() is None
    return result
