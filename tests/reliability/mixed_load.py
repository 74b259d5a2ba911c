#!/usr/bin/python3
"""The mixed load of the reliability suite: concurrent callers of one chunkcached address,
every byte they receive compared with its source image, every status classified as expected or
unexpected.

    timeline = FaultTimeline()
    load = MixedLoad(pb2, pb2_grpc, server.address, archives, callers=64)
    load.start(); ...; timeline.begin("hang"); ...; timeline.end("hang"); load.stop()
    load.summary()  # calls by role and code, unexpected examples, bytes verified, latencies

Roles (shares of `callers`): random ReadRange of 4 KiB-4 MiB anywhere, small hot ReadRange in
one chunk that stays cached (their latencies are the "hits"), whole-archive StreamRange,
StatSnapshot, Prefetch of random ranges, calls the driver cancels, calls with short deadlines.

A status is expected when the driver caused it: CANCELLED for a call it cancelled,
DEADLINE_EXCEEDED for a short deadline, DATA_LOSS for a range over a chunk whose blob was
corrupted (`corrupted` digests), UNAVAILABLE or DEADLINE_EXCEEDED while a fault window of the
timeline was open (plus `grace` seconds). Anything else, a wrong byte included, is unexpected.
"""

import math
import random
import threading
import time

import grpc

from rig import channel

ROLE_SHARES = [("random_read", 0.60), ("hot_read", 0.12), ("stream", 0.08), ("stat", 0.04),
               ("prefetch", 0.04), ("cancel", 0.06), ("short_deadline", 0.06)]
KIB = 1024
MIB = 1024 * KIB


class FaultTimeline:
    """Windows (monotonic seconds) during which an injected fault may fail calls."""

    def __init__(self, grace=0.0):
        self.lock = threading.Lock()
        self.windows = []  # [kind, start, end or None]
        self.grace = grace

    def begin(self, kind):
        with self.lock:
            self.windows.append([kind, time.monotonic(), None])

    def end(self, kind):
        with self.lock:
            for window in self.windows:
                if window[0] == kind and window[2] is None:
                    window[2] = time.monotonic()

    def overlaps(self, start, end):
        with self.lock:
            for _, begun, ended in self.windows:
                if begun <= end and (ended is None or start <= ended + self.grace):
                    return True
        return False

    def describe(self):
        with self.lock:
            return [{"fault": k, "seconds": round((e or time.monotonic()) - b, 3)}
                    for k, b, e in self.windows]


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(fraction * len(ordered))) - 1)]


class Tally:
    """Counts shared by all callers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = {}        # "role code" -> count
        self.unexpected = 0
        self.examples = []     # the first unexpected outcomes, for the report
        self.bytes_verified = 0
        self.wrong_bytes = 0   # replies whose bytes, offset, length or eof differ from the source
        self.latency = {}      # role -> [seconds] of OK calls
        self.phase = "load"
        self.phase_latency = {}  # phase -> [seconds] of OK hot reads
        self.deadline_overrun = 0.0  # the most any call outlived its deadline (seconds)

    def record(self, role, code, expected, detail, seconds, timeout, verified=0):
        with self.lock:
            key = "%s %s" % (role, code)
            self.calls[key] = self.calls.get(key, 0) + 1
            self.bytes_verified += verified
            if code == "OK":
                self.latency.setdefault(role, []).append(seconds)
                if role == "hot_read":
                    self.phase_latency.setdefault(self.phase, []).append(seconds)
            if timeout is not None:
                self.deadline_overrun = max(self.deadline_overrun, seconds - timeout)
            if not expected:
                self.unexpected += 1
                if len(self.examples) < 20:
                    self.examples.append("%s %s: %s" % (role, code, detail[:300]))

    def wrong(self, role, detail):
        with self.lock:
            self.wrong_bytes += 1
            self.unexpected += 1
            if len(self.examples) < 20:
                self.examples.append("%s WRONG BYTES: %s" % (role, detail[:300]))


class MixedLoad:
    def __init__(self, pb2, pb2_grpc, address, archives, callers, timeline=None, corrupted=None,
                 timeout=60.0, seed=1, channels=4, roles=None):
        self.pb2 = pb2
        self.address = address
        self.archives = list(archives)
        self.active = list(archives)  # the archives callers pick from; see enable()
        self.timeline = timeline or FaultTimeline()
        self.corrupted = corrupted if corrupted is not None else set()
        self.timeout = timeout
        self.tally = Tally()
        self.stopping = threading.Event()
        self.running = threading.Event()  # cleared: callers wait (a server is being restarted)
        self.running.set()
        self.channels = [channel(address) for _ in range(channels)]
        self.stubs = [pb2_grpc.ChunkCacheStub(c) for c in self.channels]
        self.threads = []
        self.streams_lock = threading.Lock()
        self.open_streams = set()
        shares = roles or ROLE_SHARES
        counts = {role: max(1, round(share * callers)) for role, share in shares}
        counts[shares[0][0]] += callers - sum(counts.values())  # exactly `callers` in all
        self.roles = [role for role, _ in shares for _ in range(counts[role])]
        self.rng = random.Random(seed)
        self.hot = self.archives[0]  # hot reads stay in its chunk 0
        self.started_at = None

    def enable(self, archive):
        """Lets callers read `archive` from now on (one kept out of the load until then)."""
        if archive not in self.active:
            self.active = self.active + [archive]

    def restrict(self, archives):
        self.active = list(archives)

    def start(self):
        self.started_at = time.monotonic()
        for number, role in enumerate(self.roles):
            thread = threading.Thread(target=self.caller, args=(number, role), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        """Ends the load: streams in progress are cancelled (CANCELLED is then expected)."""
        self.stopping.set()
        self.running.set()
        with self.streams_lock:
            for call in list(self.open_streams):
                call.cancel()
        for thread in self.threads:
            thread.join(timeout=self.timeout + 30)
        for c in self.channels:
            c.close()
        return [t.name for t in self.threads if t.is_alive()]

    # --- one caller ---------------------------------------------------------------------------

    def caller(self, number, role):
        rng = random.Random(number * 7919 + 17)
        stub = self.stubs[number % len(self.stubs)]
        while not self.stopping.is_set():
            self.running.wait()
            if self.stopping.is_set():
                break
            getattr(self, "call_" + role)(stub, rng, role)

    def classify(self, error, start, end, cancelled=False, short=False, digests=()):
        code = error.code()
        if code == grpc.StatusCode.CANCELLED and (cancelled or self.stopping.is_set()):
            return True
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and short:
            return True
        if code == grpc.StatusCode.DATA_LOSS and self.corrupted & set(digests):
            return True
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and \
                self.timeline.overlaps(start, end):
            return True
        return False

    def failed(self, role, error, start, timeout, **kwargs):
        end = time.monotonic()
        expected = self.classify(error, start, end, **kwargs)
        self.tally.record(role, error.code().name, expected,
                          "%s (%.3f s)" % (error.details(), end - start), end - start, timeout)

    def verify_reply(self, role, archive, offset, length, reply):
        """Compares a ReadRange reply with the source; the bytes verified (0 when wrong)."""
        want = min(length, archive.size - offset)
        eof = offset + want == archive.size
        if reply.offset != offset or len(reply.data) != want or reply.eof != eof or \
                archive.view[offset:offset + want] != reply.data:
            self.tally.wrong(role, "archive %d offset %d length %d: got offset %d, %d bytes, "
                             "eof %s" % (archive.backup_id, offset, length, reply.offset,
                                         len(reply.data), reply.eof))
            return 0
        return want

    def read(self, stub, role, archive, offset, length, timeout, short=False):
        request = self.pb2.ReadRangeRequest(snapshot=archive.ref(self.pb2), offset=offset,
                                            length=length)
        start = time.monotonic()
        try:
            reply = stub.ReadRange(request, timeout=timeout)
        except grpc.RpcError as error:
            self.failed(role, error, start, timeout, short=short,
                        digests=archive.digests_of(offset, length))
            return
        seconds = time.monotonic() - start
        verified = self.verify_reply(role, archive, offset, length, reply)
        if verified:
            self.tally.record(role, "OK", True, "", seconds, timeout, verified)

    def random_range(self, rng):
        archive = rng.choice(self.active)
        length = int(math.exp(rng.uniform(math.log(4 * KIB), math.log(4 * MIB))))
        offset = rng.randrange(0, archive.size)
        return archive, offset, length

    def call_random_read(self, stub, rng, role):
        archive, offset, length = self.random_range(rng)
        self.read(stub, role, archive, offset, length, self.timeout)

    def call_hot_read(self, stub, rng, role):
        length = rng.randrange(4 * KIB, 64 * KIB)
        offset = rng.randrange(0, (4 * MIB) - length)
        self.read(stub, role, self.hot, offset, length, self.timeout)

    def call_short_deadline(self, stub, rng, role):
        archive, offset, length = self.random_range(rng)
        self.read(stub, role, archive, offset, length, rng.uniform(0.005, 0.1), short=True)

    def call_cancel(self, stub, rng, role):
        archive, offset, length = self.random_range(rng)
        request = self.pb2.ReadRangeRequest(snapshot=archive.ref(self.pb2), offset=offset,
                                            length=length)
        start = time.monotonic()
        future = stub.ReadRange.future(request, timeout=self.timeout)
        time.sleep(rng.uniform(0, 0.05))
        future.cancel()
        try:
            reply = future.result()
        except grpc.FutureCancelledError:
            self.tally.record(role, "CANCELLED", True, "", time.monotonic() - start, None)
            return
        except grpc.RpcError as error:
            self.failed(role, error, start, self.timeout, cancelled=True,
                        digests=archive.digests_of(offset, length))
            return
        verified = self.verify_reply(role, archive, offset, length, reply)
        if verified:
            self.tally.record(role, "OK", True, "", time.monotonic() - start, None, verified)

    def call_stream(self, stub, rng, role):
        archive = rng.choice(self.active)
        request = self.pb2.ReadRangeRequest(snapshot=archive.ref(self.pb2), offset=0, length=0)
        start = time.monotonic()
        call = stub.StreamRange(request, timeout=self.timeout * 4)
        with self.streams_lock:
            self.open_streams.add(call)
        position, verified, eof = 0, 0, False
        try:
            for reply in call:
                want = min(4 * MIB, archive.size - position)
                if reply.offset != position or len(reply.data) == 0 or \
                        len(reply.data) > want or \
                        archive.view[position:position + len(reply.data)] != reply.data:
                    self.tally.wrong(role, "archive %d stream at %d: message at %d of %d bytes"
                                     % (archive.backup_id, position, reply.offset,
                                        len(reply.data)))
                    call.cancel()
                    return
                position += len(reply.data)
                verified += len(reply.data)
                eof = reply.eof
                if self.stopping.is_set():
                    call.cancel()
        except grpc.RpcError as error:
            with self.tally.lock:
                self.tally.bytes_verified += verified
            self.failed(role, error, start, self.timeout * 4,
                        digests=archive.digests_of(position, 4 * MIB))
            return
        finally:
            with self.streams_lock:
                self.open_streams.discard(call)
        if position != archive.size or not eof:
            self.tally.wrong(role, "archive %d stream ended at %d of %d (eof %s)"
                             % (archive.backup_id, position, archive.size, eof))
            return
        self.tally.record(role, "OK", True, "", time.monotonic() - start, None, verified)

    def call_stat(self, stub, rng, role):
        archive = rng.choice(self.active)
        start = time.monotonic()
        try:
            info = stub.StatSnapshot(self.pb2.StatSnapshotRequest(snapshot=archive.ref(self.pb2)),
                                     timeout=self.timeout)
        except grpc.RpcError as error:
            self.failed(role, error, start, self.timeout)
            return
        if info.size != archive.size or info.chunk_count != len(archive.digests) or \
                info.distinct_chunks != len(set(archive.digests)):
            self.tally.wrong(role, "StatSnapshot of archive %d: size %d chunks %d distinct %d"
                             % (archive.backup_id, info.size, info.chunk_count,
                                info.distinct_chunks))
            return
        self.tally.record(role, "OK", True, "", time.monotonic() - start, self.timeout)
        time.sleep(0.01)  # a monitoring client, not a flood

    def call_prefetch(self, stub, rng, role):
        archive = rng.choice(self.active)
        ranges = [self.pb2.ByteRange(offset=rng.randrange(0, archive.size),
                                     length=rng.randrange(1, 16 * MIB))
                  for _ in range(rng.randrange(1, 8))]
        start = time.monotonic()
        try:
            reply = stub.Prefetch(self.pb2.PrefetchRequest(snapshot=archive.ref(self.pb2),
                                                           ranges=ranges), timeout=self.timeout)
        except grpc.RpcError as error:
            # A prefetch of a corrupted chunk does not fail the call: the chunk is not cached.
            self.failed(role, error, start, self.timeout)
            return
        if reply.chunks_already_cached > reply.chunks_requested + len(archive.digests):
            self.tally.wrong(role, "Prefetch counts %d requested %d cached"
                             % (reply.chunks_requested, reply.chunks_already_cached))
            return
        self.tally.record(role, "OK", True, "", time.monotonic() - start, self.timeout)
        time.sleep(0.05)

    # --- the report ---------------------------------------------------------------------------

    def summary(self):
        t = self.tally
        with t.lock:
            latency = {role: {"calls": len(v), "p50_ms": round(percentile(v, 0.5) * 1e3, 3),
                              "p99_ms": round(percentile(v, 0.99) * 1e3, 3)}
                       for role, v in t.latency.items() if v}
            phases = {phase: {"calls": len(v), "p50_ms": round(percentile(v, 0.5) * 1e3, 3),
                              "p99_ms": round(percentile(v, 0.99) * 1e3, 3)}
                      for phase, v in t.phase_latency.items() if v}
            return {
                "callers": len(self.roles),
                "roles": {r: self.roles.count(r) for r in sorted(set(self.roles))},
                "calls": sum(t.calls.values()),
                "calls_by_role_and_code": dict(sorted(t.calls.items())),
                "unexpected": t.unexpected,
                "unexpected_examples": list(t.examples),
                "bytes_verified": t.bytes_verified,
                "wrong_bytes": t.wrong_bytes,
                "latency": latency,
                "hit_latency_by_phase": phases,
                "deadline_overrun_max_s": round(t.deadline_overrun, 3),
                "faults": self.timeline.describe(),
            }
