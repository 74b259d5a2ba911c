#!/usr/bin/python3
"""Samples a running chunkcached once a second: RssAnon from /proc/PID/status, the pinned and
evictable cache bytes from /metrics. The samples tell whether anonymous memory stays flat after
the warm-up and how much of the cache readers pinned.

    sampler = ServerSampler(server); sampler.start(); ...; sampler.stop()
    sampler.summary(warmup_seconds=60)
"""

import threading
import time

MIB = 1 << 20


def slope_per_minute(points):
    """Least-squares slope of (seconds, value) points, per minute; 0 for fewer than 2."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


class ServerSampler:
    def __init__(self, server, interval=1.0):
        self.server = server
        self.interval = interval
        self.samples = []  # (seconds since start, RssAnon bytes, pinned bytes, evictable bytes)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = None

    def start(self):
        self.started = time.monotonic()
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=60)

    def run(self):
        while not self.stopping.is_set():
            try:
                text = self.server.metrics()
                self.samples.append((time.monotonic() - self.started,
                                     self.server.status_kib("RssAnon") * 1024,
                                     self.server.metric("chunkcache_cache_bytes",
                                                        {"kind": "pinned"}, text),
                                     self.server.metric("chunkcache_cache_bytes",
                                                        {"kind": "evictable"}, text)))
            except (OSError, ValueError):
                pass  # the server is being restarted: no sample this time
            self.stopping.wait(self.interval)

    def summary(self, warmup_seconds):
        """RssAnon before and after the warm-up, its growth and slope after it; pinned bytes."""
        if not self.samples:
            return {"samples": 0}
        after = [(t, rss) for t, rss, _, _ in self.samples if t >= warmup_seconds]
        if not after:
            after = [(t, rss) for t, rss, _, _ in self.samples[-1:]]
        rss_all = [rss for _, rss, _, _ in self.samples]
        return {
            "samples": len(self.samples),
            "warmup_s": warmup_seconds,
            "rss_anon_max_in_warmup_mib": round(
                max([rss for t, rss, _, _ in self.samples if t < warmup_seconds] or [0]) / MIB, 1),
            "rss_anon_at_warmup_mib": round(after[0][1] / MIB, 1),
            "rss_anon_end_mib": round(after[-1][1] / MIB, 1),
            "rss_anon_max_mib": round(max(rss_all) / MIB, 1),
            "rss_anon_growth_after_warmup_mib": round((max(v for _, v in after) - after[0][1])
                                                      / MIB, 1),
            "rss_anon_slope_after_warmup_mib_per_min": round(slope_per_minute(after) / MIB, 2),
            "pinned_max_mib": round(max(p for _, _, p, _ in self.samples) / MIB, 1),
        }
