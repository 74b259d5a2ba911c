#!/usr/bin/python3
"""The upstream-fault scenario of the reliability suite (see reliability_run.py).

A node chunkcached reads datastore "store" from a rack chunkcached (the `remote` upstream,
tiering) that serves a datastore directory. The mixed load reads through the node while the
rack, one phase after another: works (the baseline), hangs (SIGSTOP), is down (SIGKILL, then
restarted on the same address), returns corrupt blobs (bytes flipped in chunk files of an
archive the load only starts reading then), and is slow (stopped 80 % of the time). Between
faults the load runs a recovery phase. The hot readers' latencies per phase are the hits.
"""

import json
import os
import signal
import threading
import time

import grpc

from mixed_load import FaultTimeline, MixedLoad
from rig import ArchiveImage, channel
from soak_and_crash import distinct_bytes, open_sessions, read_pass, server_counters

MIB = 1 << 20
RACK_TIMEOUT_SECONDS = 2


def replace_file(path, data):
    """Writes `data` over `path` by renaming a new file onto it: a reader sees the old blob or
    the new one, never a truncated one (an empty chunk file is an S3 marker: NOT_FOUND)."""
    temporary = path + ".new"
    with open(temporary, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def corrupt_chunk_files(store, archive, count):
    """Flips bytes in the blobs of `count` chunks that only `archive` has (never its hinted
    chunks, which the session fetches at open); {digest: original bytes}."""
    shared = set().union(*(a.digests for a in store.archives if a is not archive))
    hinted = archive.hinted_digests()
    originals = {}
    for digest in archive.digests:
        if digest in shared or digest in hinted or digest in originals:
            continue
        path = store.chunk_file(digest)
        with open(path, "rb") as blob:
            original = blob.read()
        damaged = bytearray(original)
        for at in range(len(damaged) // 2, len(damaged), 4099):
            damaged[at] ^= 0x5A
        replace_file(path, bytes(damaged))
        originals[digest] = original
        if len(originals) == count:
            break
    return originals


def restore_chunk_files(store, originals):
    for digest, original in originals.items():
        replace_file(store.chunk_file(digest), original)


class DutyCycle:
    """Keeps a process stopped `stopped` seconds out of every `stopped + running`: slow."""

    def __init__(self, server, stopped=0.2, running=0.05):
        self.server, self.stopped_s, self.running_s = server, stopped, running
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.is_set():
            self.server.send(signal.SIGSTOP)
            time.sleep(self.stopped_s)
            self.server.send(signal.SIGCONT)
            self.done.wait(self.running_s)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.server.send(signal.SIGCONT)


def node_recovery(pb2, pb2_grpc, node, archive, seconds=120):
    """Opens `archive` on the node, retrying UNAVAILABLE; the monotonic time it succeeded
    (None after `seconds`)."""
    give_up = time.monotonic() + seconds
    with channel(node.address) as ch:
        stub = pb2_grpc.ChunkCacheStub(ch)
        while time.monotonic() < give_up:
            try:
                stub.StatSnapshot(pb2.StatSnapshotRequest(snapshot=archive.ref(pb2)), timeout=10)
                return time.monotonic()
            except grpc.RpcError as error:
                if error.code() not in (grpc.StatusCode.UNAVAILABLE,
                                        grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
            time.sleep(0.05)
    return None


def run_faults(rig, pb2, pb2_grpc, options):
    archives = [ArchiveImage(100 + i, options.chunks, seed=1 + i) for i in range(options.archives)]
    held_back = ArchiveImage(199, options.chunks, seed=99)  # read from the corrupt phase on
    store = rig.datastore("ds", archives + [held_back])
    rack = rig.server("rack", ["--datastore", "store=" + store.path, "--cache-bytes",
                               options.cache_bytes, "--log-level", "warn"])
    config = os.path.join(rig.scratch, "node.json")
    with open(config, "w") as out:
        json.dump({"datastores": [{"name": "store", "remote": {
            "target": rack.address, "timeoutSeconds": RACK_TIMEOUT_SECONDS}}]}, out)
    node = rig.server("node", ["--config", config, "--cache-bytes", options.cache_bytes,
                               "--log-level", "warn"])
    rack.wait_serving()
    node.wait_serving()
    open_sessions(pb2, pb2_grpc, node, archives)

    timeline = FaultTimeline(grace=RACK_TIMEOUT_SECONDS + 2.0)
    corrupted = set()
    load = MixedLoad(pb2, pb2_grpc, node.address, archives, options.callers,
                     timeline=timeline, corrupted=corrupted, timeout=15.0)
    phase_seconds = options.seconds / 9.0
    injected = []

    def phase(name, seconds=phase_seconds):
        load.tally.phase = name
        time.sleep(seconds)

    load.start()
    phase("warmup")
    phase("baseline")

    timeline.begin("hang")
    rack.send(signal.SIGSTOP)
    phase("hang")
    rack.send(signal.SIGCONT)
    timeline.end("hang")
    injected.append("rack stopped (SIGSTOP) %.1f s" % phase_seconds)
    phase("after_hang", phase_seconds / 2)

    timeline.begin("down")
    rack.kill(signal.SIGKILL)
    phase("down")
    rack.start()
    rack_back = rack.wait_serving()
    timeline.end("down")
    # How long the node goes on failing once the rack serves again: opening the held-back
    # archive needs the rack (its manifest and index).
    recovery = node_recovery(pb2, pb2_grpc, node, held_back)
    recovery_s = round(recovery - rack_back, 3) if recovery else None
    injected.append("rack killed (SIGKILL), restarted after %.1f s" % phase_seconds)
    phase("after_down", phase_seconds / 2)

    originals = corrupt_chunk_files(store, held_back, 3)
    corrupted.update(originals)
    load.enable(held_back)
    phase("corrupt")
    restore_chunk_files(store, originals)
    injected.append("%d chunk blobs corrupted for %.1f s" % (len(originals), phase_seconds))
    phase("after_corrupt", phase_seconds / 2)

    timeline.begin("slow")
    with DutyCycle(rack):
        phase("slow")
    timeline.end("slow")
    injected.append("rack stopped 80 %% of the time for %.1f s" % phase_seconds)
    phase("after_slow", phase_seconds / 2)
    stuck = load.stop()

    # The corrupted chunks were never cached: once their blobs are repaired, they read fine.
    verified, problems = read_pass(pb2, pb2_grpc, node.address, [held_back])
    summary = load.summary()
    phases = summary["hit_latency_by_phase"]
    base = phases.get("baseline", {}).get("p99_ms")
    ratios = {name: round(p["p99_ms"] / base, 2) for name, p in phases.items()
              if base and name != "warmup"}
    return {
        "scenario": "faults",
        "seconds": options.seconds,
        "cache_bytes": options.cache_bytes,
        "working_set_mib": distinct_bytes(archives + [held_back]) / MIB,
        "faults_injected": injected,
        "node_recovery_after_rack_restart_s": recovery_s,
        "corrupted_chunks": len(originals),
        "load": summary,
        "hit_p99_ratio_to_baseline": ratios,
        "callers_still_running": stuck,
        "repaired_pass_bytes_verified": verified,
        "repaired_pass_problems": problems[:10],
        "node": server_counters(node),
        "rack": server_counters(rack),
        "server_alive": node.process.poll() is None and rack.process.poll() is None,
    }
