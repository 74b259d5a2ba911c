#!/usr/bin/python3
"""The soak and crash scenarios of the reliability suite (see reliability_run.py).

soak: one chunkcached over a cache smaller than the working set, the mixed load for the given
seconds, RssAnon sampled; afterwards the pinned bytes must come back to the hinted sets.
crash: a persisting chunkcached killed with SIGKILL in the middle of the load and restarted on
the same address: time to SERVING, bytes verified after the restart, persisted entries reused
(upstream fetches of a full read pass compared with the archives' distinct chunks).
"""

import json
import os
import signal
import time

import grpc

from mixed_load import FaultTimeline, MixedLoad
from rig import CHUNK, ArchiveImage, channel
from server_sampler import ServerSampler

MIB = 1 << 20


def load_archives(options):
    """The archives the load reads (working set: their distinct chunks)."""
    return [ArchiveImage(100 + i, options.chunks, seed=1 + i) for i in range(options.archives)]


def distinct_bytes(archives):
    return CHUNK * len(set(d for a in archives for d in a.digests))


def hinted_bytes(archives, infos):
    """Bytes the hinted sets of `archives` pin together (a chunk hinted twice is pinned once).
    A session gets the first StatSnapshot.hinted_chunks of its chosen set: the cache-wide
    hinted budget may have cut it short."""
    pinned = set()
    for archive, info in zip(archives, infos):
        pinned.update(archive.hinted_digests()[:info.hinted_chunks])
    return CHUNK * len(pinned)


def open_sessions(pb2, pb2_grpc, server, archives):
    """StatSnapshot of every archive (opens its session, pins its hinted set); the replies."""
    with channel(server.address) as ch:
        stub = pb2_grpc.ChunkCacheStub(ch)
        return [stub.StatSnapshot(pb2.StatSnapshotRequest(snapshot=a.ref(pb2)), timeout=60)
                for a in archives]


def wait_pinned(server, target, seconds):
    """Waits until the pinned bytes are at most `target`; the last value seen."""
    give_up = time.monotonic() + seconds
    while True:
        pinned = server.metric("chunkcache_cache_bytes", {"kind": "pinned"})
        if pinned <= target or time.monotonic() > give_up:
            return pinned
        time.sleep(0.2)


def server_counters(server):
    text = server.metrics()
    codes = {}
    for line in text.splitlines():
        if line.startswith("chunkcache_requests_total{"):
            labels = dict(part.split("=") for part in line[line.index("{") + 1:
                                                            line.index("}")].split(","))
            key = "%s %s" % (labels["rpc"].strip('"'), labels["code"].strip('"'))
            codes[key] = codes.get(key, 0) + float(line.split()[-1])
    return {
        "requests_by_rpc_and_code": codes,
        "upstream_fetches_ok": server.metric("chunkcache_upstream_fetches_total",
                                             {"result": "ok"}, text),
        "upstream_fetches_error": server.metric("chunkcache_upstream_fetches_total",
                                                {"result": "error"}, text),
        "upstream_fetches_corrupt": server.metric("chunkcache_upstream_fetches_total",
                                                  {"result": "corrupt"}, text),
        "evictions": server.metric("chunkcache_evictions_total", None, text),
        "decode_errors": server.metric("chunkcache_decode_errors_total", None, text),
        "read_bytes": server.metric("chunkcache_read_bytes_total", None, text),
    }


def pinned_after_load(server, archives, infos, seconds=15):
    hinted = hinted_bytes(archives, infos)
    pinned = wait_pinned(server, hinted, seconds)
    return {
        "hinted_bytes_expected_mib": hinted / MIB,
        "hinted_chunks_by_stat": [info.hinted_chunks for info in infos],
        "pinned_after_load_mib": pinned / MIB,
    }


def sessions_config(rig, idle_timeout):
    """A config file that closes sessions idle for `idle_timeout` seconds."""
    path = os.path.join(rig.scratch, "sessions.json")
    with open(path, "w") as out:
        json.dump({"sessions": {"idleTimeoutSeconds": idle_timeout}}, out)
    return path


def pinned_after_sessions_close(server, seconds):
    """Waits for every session to idle out; then nothing may stay pinned (a pin that does
    leaked). (pinned MiB, sessions still open)."""
    give_up = time.monotonic() + seconds
    while server.metric("chunkcache_snapshots_open") > 0 and time.monotonic() < give_up:
        time.sleep(0.5)
    time.sleep(1.0)  # the close releases the hinted sets
    return {"pinned_after_sessions_closed_mib":
            server.metric("chunkcache_cache_bytes", {"kind": "pinned"}) / MIB,
            "sessions_open_at_the_end": server.metric("chunkcache_snapshots_open")}


def with_idle_timeout(rig, options, args):
    """`args` plus a config closing idle sessions after --idle-timeout, if given."""
    if not options.idle_timeout:
        return args
    return args + ["--config", sessions_config(rig, options.idle_timeout)]


def pins_after_load(server, archives, infos, options):
    """Pinned bytes once the load stopped: back to the hinted sets (within 15 s, or before the
    sessions idle out); with --idle-timeout, also zero once every session closed."""
    wait = min(15, options.idle_timeout - 3) if options.idle_timeout else 15
    result = pinned_after_load(server, archives, infos, wait)
    if options.idle_timeout:
        result.update(pinned_after_sessions_close(server, options.idle_timeout + 30))
    return result


def run_soak(rig, pb2, pb2_grpc, options):
    archives = load_archives(options)
    store = rig.datastore("ds", archives)
    server = rig.server("soak", with_idle_timeout(rig, options, [
        "--datastore", "store=" + store.path, "--cache-bytes", options.cache_bytes,
        "--log-level", "warn"]))
    server.wait_serving()
    infos = open_sessions(pb2, pb2_grpc, server, archives)
    sampler = ServerSampler(server)
    load = MixedLoad(pb2, pb2_grpc, server.address, archives, options.callers)
    sampler.start()
    load.start()
    time.sleep(options.seconds)
    stuck = load.stop()
    sampler.stop()
    result = {
        "scenario": "soak",
        "seconds": options.seconds,
        "cache_bytes": options.cache_bytes,
        "working_set_mib": distinct_bytes(archives) / MIB,
        "load": load.summary(),
        "callers_still_running": stuck,
        "memory": sampler.summary(warmup_seconds=min(60, options.seconds / 3)),
        "server": server_counters(server),
    }
    result.update(pins_after_load(server, archives, infos, options))
    result["server_alive"] = server.process.poll() is None
    return result


def read_pass(pb2, pb2_grpc, address, archives):
    """Reads every archive whole, chunk by chunk, comparing each byte; (bytes, problems)."""
    verified, problems = 0, []
    with channel(address) as ch:
        stub = pb2_grpc.ChunkCacheStub(ch)
        for archive in archives:
            for offset in range(0, archive.size, CHUNK):
                try:
                    reply = stub.ReadRange(pb2.ReadRangeRequest(
                        snapshot=archive.ref(pb2), offset=offset, length=CHUNK), timeout=60)
                except grpc.RpcError as error:
                    problems.append("%d@%d: %s %s" % (archive.backup_id, offset,
                                                      error.code().name, error.details()))
                    continue
                if reply.offset != offset or archive.view[offset:offset + CHUNK] != reply.data:
                    problems.append("%d@%d: WRONG BYTES" % (archive.backup_id, offset))
                    continue
                verified += len(reply.data)
    return verified, problems


def run_crash(rig, pb2, pb2_grpc, options):
    archives = load_archives(options)
    store = rig.datastore("ds", archives)
    server = rig.server("crash", ["--datastore", "store=" + store.path, "--cache-bytes",
                                  options.cache_bytes, "--persist", "--log-level", "info"])
    server.wait_serving()
    open_sessions(pb2, pb2_grpc, server, archives)
    timeline = FaultTimeline(grace=1.0)
    load = MixedLoad(pb2, pb2_grpc, server.address, archives, options.callers, timeline=timeline)
    load.start()
    time.sleep(options.seconds / 2)

    # The callers start no new call while the server is down; calls in flight fail.
    load.running.clear()
    timeline.begin("crash")
    server.kill(signal.SIGKILL)
    spawned = server.start()
    listening = time.monotonic()
    serving = server.wait_serving()
    restart = {"listening_s": round(listening - spawned, 3),
               "serving_s": round(serving - spawned, 3)}
    reopened = [line for line in server.log().splitlines() if "persisted entries" in line]
    restart["log"] = reopened[:2]

    # Persisted entries reused: what the cache holds right away, and the upstream fetches of a
    # full read pass (a cold cache fetches every distinct chunk once).
    infos = open_sessions(pb2, pb2_grpc, server, archives)
    restart["cached_mib_after_restart"] = sum(i.cached_bytes for i in infos) / MIB
    fetches_before = server.metric("chunkcache_upstream_fetches_total", {"result": "ok"})
    verified, problems = read_pass(pb2, pb2_grpc, server.address, archives)
    restart["pass_fetches"] = server.metric("chunkcache_upstream_fetches_total",
                                            {"result": "ok"}) - fetches_before
    restart["pass_distinct_chunks"] = len(set(d for a in archives for d in a.digests))
    restart["pass_bytes_verified"] = verified
    restart["pass_problems"] = problems[:10]
    timeline.end("crash")

    load.running.set()
    time.sleep(options.seconds / 2)
    stuck = load.stop()
    return {
        "scenario": "crash",
        "seconds": options.seconds,
        "cache_bytes": options.cache_bytes,
        "working_set_mib": distinct_bytes(archives) / MIB,
        "restart": restart,
        "load": load.summary(),
        "callers_still_running": stuck,
        "server": server_counters(server),
        "server_alive": server.process.poll() is None,
    }
