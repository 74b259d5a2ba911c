#!/usr/bin/python3
"""The reliability suite's driver: real chunkcached processes on loopback under a mixed load of
concurrent callers that verify every byte against the source images, with faults injected.
Prints one JSON summary (and writes it to --json); the CI test (reliability_test.cc) asserts on
it, bench/reliability_soak.sh runs it longer and turns it into bench/RESULTS.md's table.

  reliability_run.py soak|crash|faults|clients|hostile --bin BUILD/bin [--scratch DIR]
      [--seconds 30] [--callers 64] [--archives 2] [--chunks 16] [--cache-bytes 96MiB]
      [--idle-timeout S] [--sessions 200] [--connections 2000] [--huge-prefetches 4] [--json FILE]

soak     the mixed load over a cache smaller than the working set (soak_and_crash.py)
crash    kill -9 of a persisting server mid-load, restart, reuse (soak_and_crash.py)
faults   an upstream rack that hangs, dies, corrupts, slows down (upstream_faults.py)
clients  stalled and 1 MB/s StreamRange clients, cold reads beside them (hostile_clients.py)
hostile  many sessions, huge Prefetch requests, dropped connections (hostile_clients.py)
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_clients import run_clients, run_hostile  # noqa: E402
from rig import Rig, api  # noqa: E402
from soak_and_crash import run_crash, run_soak  # noqa: E402
from upstream_faults import run_faults  # noqa: E402

SCENARIOS = {"soak": run_soak, "crash": run_crash, "faults": run_faults,
             "clients": run_clients, "hostile": run_hostile}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--bin", required=True, help="directory of chunkcached and chunkcache")
    parser.add_argument("--scratch", help="work directory (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--archives", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=16, help="4 MiB chunks per archive")
    parser.add_argument("--cache-bytes", default="96MiB")
    parser.add_argument("--idle-timeout", type=float, default=0,
                        help="soak, clients, hostile: sessions close after this many idle seconds, "
                        "and nothing may stay pinned then (0: the server's default)")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--huge-prefetches", type=int, default=4)
    parser.add_argument("--json", help="also write the summary here")
    options = parser.parse_args()
    if options.scratch:
        os.makedirs(options.scratch, exist_ok=True)
        return run(options, options.scratch)
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        return run(options, scratch)


def run(options, scratch):
    pb2, pb2_grpc = api(scratch)
    rig = Rig(options.bin, scratch)
    started = time.monotonic()
    try:
        result = SCENARIOS[options.scenario](rig, pb2, pb2_grpc, options)
    finally:
        rig.close()
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(result, indent=1, sort_keys=True)
    print(text, flush=True)
    if options.json:
        with open(options.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
