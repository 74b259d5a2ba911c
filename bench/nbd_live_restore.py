#!/usr/bin/python3
"""The live-restore shape on one NBD export: a guest's random 4 KiB reads, alone or while a
sequential 512 KiB copy (qemu's block-stream step) runs on another connection. The guest reads
one 4 KiB block in each of --reads distinct chunks (so, on a cold cache, each read waits for a
fetch unless the copy got there first), one read at a time. Prints the random reader's latency
percentiles (p50, p99, max) and the copy's throughput while the guest read as one JSON line.
With 300 reads the p99 is the 4th slowest, not the maximum: one stall of a loaded machine does
not set it.

  bench/nbd_live_restore.py --uri nbd://127.0.0.1:10809/EXPORT --reads 300 [--with-copy]
"""
import argparse
import json
import random
import threading
import time

import nbd


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=4 << 20)
    parser.add_argument("--with-copy", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    stop = threading.Event()
    copied = [0]

    def copy():
        h = nbd.NBD()
        h.connect_uri(args.uri)
        size = h.get_size()
        offset = 0
        while not stop.is_set() and offset < size:
            n = min(512 * 1024, size - offset)
            h.pread(n, offset)
            offset += n
            copied[0] += n
        h.shutdown()

    h = nbd.NBD()
    h.connect_uri(args.uri)
    size = h.get_size()
    rng = random.Random(args.seed)
    copier = threading.Thread(target=copy) if args.with_copy else None
    start = time.monotonic()
    if copier:
        copier.start()
    latencies = []
    if args.reads > size // args.chunk:
        parser.error("--reads %d: the archive has only %d chunks" % (args.reads, size // args.chunk))
    chunks = rng.sample(range(size // args.chunk), args.reads)
    for chunk in chunks:
        offset = chunk * args.chunk + rng.randrange(args.chunk // 4096) * 4096
        t0 = time.monotonic()
        h.pread(4096, offset)
        latencies.append(time.monotonic() - t0)
    elapsed = time.monotonic() - start
    stop.set()
    if copier:
        copier.join()
    h.shutdown()
    print(json.dumps({"reads": len(latencies), "p50_ms": 1000 * percentile(latencies, 50),
                      "p99_ms": 1000 * percentile(latencies, 99),
                      "max_ms": 1000 * max(latencies),
                      "copy_MiBps": copied[0] / elapsed / (1 << 20)}))


if __name__ == "__main__":
    main()
