#!/usr/bin/python3
"""The Grafana dashboard and the Prometheus rules against a live chunkcached.

Checks deploy/grafana/chunkcache.json structurally (unique panel ids, a datasource and targets
on every panel, sane gridPos, the datasource and instance variables), then builds a small PBS
datastore with `chunkcache datastore create`, serves it with chunkcached, starts a real
Prometheus (scrape and rule evaluation every second, deploy/prometheus/chunkcache.rules.yml
loaded) and drives restores (cold, warm, the next day's snapshot), reads, a stat, failing reads,
a read of a corrupted chunk, and NBD clients (nbdinfo --map, nbdcopy) on the NBD export. Then
every target of every panel is run through Prometheus's HTTP API, with the dashboard variables replaced by real values, and must succeed with a
non-empty result holding at least one number (not only NaN). Every rule must evaluate without
error, every recorded series must have data, and the one alert this traffic must raise
(ChunkcacheCorruptChunks) must be the only one active.

  tests/deploy/dashboard_test.py --bin build/bin
  # The same with 4 minutes of varied traffic, then docs/dashboard.png from the live data:
  tests/deploy/dashboard_test.py --bin build/bin --traffic-seconds 240 --render docs/dashboard.png

Exit status 0 when every check passed; each failure is printed.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
CHUNK = 4 * MIB  # fixed-index chunk size of `chunkcache datastore create`

DAY1 = "vm/100/2026-01-01T00:00:00Z"
DAY2 = "vm/100/2026-01-02T00:00:00Z"
OTHER = "vm/200/2026-01-01T00:00:00Z"  # another VM; one of its chunks is corrupted on disk
ARCHIVE = "drive-scsi0.img.fidx"

failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message, flush=True)


# --- the dashboard file ---------------------------------------------------------------------

def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def check_structure(dashboard):
    if not 36 <= dashboard.get("schemaVersion", 0) <= 41:
        fail(f"schemaVersion {dashboard.get('schemaVersion')} is not ~39")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    datasource = variables.get("datasource")
    if not datasource or datasource.get("type") != "datasource" or datasource.get("query") != "prometheus":
        fail("no Prometheus datasource variable named 'datasource'")
    instance = variables.get("instance")
    if not instance or instance.get("type") != "query" or not instance.get("multi") \
            or not instance.get("includeAll"):
        fail("no multi-value 'instance' query variable with All")
    ids = set()
    for panel in all_panels(dashboard):
        title = panel.get("title", "?")
        if panel.get("id") in ids or not isinstance(panel.get("id"), int):
            fail(f"panel {title!r}: id {panel.get('id')} missing or not unique")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "xywh") or grid["x"] < 0 or grid["y"] < 0 \
                or grid["w"] < 1 or grid["h"] < 1 or grid["x"] + grid["w"] > 24:
            fail(f"panel {title!r}: bad gridPos {grid}")
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"panel {title!r}: datasource is not ${{datasource}}")
        targets = panel.get("targets", [])
        if not targets:
            fail(f"panel {title!r}: no targets")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids):
            fail(f"panel {title!r}: duplicate refIds {ref_ids}")
        for target in targets:
            expr = target.get("expr", "")
            if target.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"panel {title!r} target {target.get('refId')}: datasource is not ${{datasource}}")
            # Every selector of a chunkcache metric carries the instance variable.
            for selector in re.findall(r"chunkcache_[a-z_]+(?:\{[^}]*\})?", expr):
                if 'instance=~"$instance"' not in selector:
                    fail(f"panel {title!r}: {selector!r} does not select instance=~\"$instance\"")
    # Panels must not overlap.
    cells = {}
    overlaps = set()
    for panel in all_panels(dashboard):
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    overlaps.add((cells[(x, y)], panel["title"]))
                cells[(x, y)] = panel["title"]
    for first, second in sorted(overlaps):
        fail(f"panels {first!r} and {second!r} overlap")


def substitute(expr, values):
    """Replaces $name, ${name} and ${name:format} with values[name]."""
    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown variable ${name} in {expr}")
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


# --- processes --------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def prometheus_api(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        body = http_get(url, timeout=30)
    except urllib.error.HTTPError as error:
        body = error.read().decode()
    return json.loads(body)


def stop(process, name):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop on SIGTERM; killing it", flush=True)
            process.kill()
            process.wait()


def wait_for(what, predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.3)
    fail(f"timed out waiting for {what}")
    return False


# --- data and traffic -------------------------------------------------------------------------

def make_datastore(cli, work):
    """Three fixed-index snapshots: day 1 (64 MiB: 13 distinct chunks, one of them four times,
    one all zero), day 2 (day 1 with two chunks changed), and another VM of 12 unique chunks,
    the last of which gets a flipped byte after it is stored."""
    store = os.path.join(work, "datastore")
    rng_blocks = [os.urandom(CHUNK) for _ in range(11)]
    repeated = os.urandom(CHUNK)
    zero = bytes(CHUNK)
    day1 = [rng_blocks[0], repeated, rng_blocks[1], zero, repeated, rng_blocks[2], rng_blocks[3],
            repeated, rng_blocks[4], rng_blocks[5], rng_blocks[6], repeated, rng_blocks[7],
            rng_blocks[8], rng_blocks[9], rng_blocks[10]]
    day2 = list(day1)
    day2[2] = os.urandom(CHUNK)
    day2[9] = os.urandom(CHUNK)
    images = {DAY1: day1, DAY2: day2}
    for snapshot, blocks in images.items():
        path = os.path.join(work, snapshot.replace("/", "_") + ".img")
        with open(path, "wb") as f:
            for block in blocks:
                f.write(block)
        run([cli, "datastore", "create", "--path", store, "--snapshot", snapshot,
             "--archive", ARCHIVE, "--image", path])
    path = os.path.join(work, "other.img")
    with open(path, "wb") as f:
        for _ in range(12):
            f.write(os.urandom(CHUNK))
    run([cli, "datastore", "create", "--path", store, "--snapshot", OTHER, "--archive", ARCHIVE,
         "--image", path])
    # The last chunk of the other VM: a fixed index is a 4096-byte header, then one 32-byte
    # digest per chunk. One byte in the middle of its blob is flipped, so its CRC fails.
    with open(os.path.join(store, OTHER, ARCHIVE), "rb") as f:
        index = f.read()
    digest = index[4096 + 32 * 11:4096 + 32 * 12].hex()
    victim = os.path.join(store, ".chunks", digest[:4], digest)
    with open(victim, "r+b") as f:
        f.seek(os.path.getsize(victim) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    return store


class Traffic:
    def __init__(self, cli, server, work, nbd_port):
        self.cli, self.server, self.work = cli, server, work
        self.remote = ["--server", server, "--datastore", "demo", "--archive", ARCHIVE]
        self.nbd_port = nbd_port

    def cli_run(self, args, expect_ok=True):
        result = subprocess.run([self.cli, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, errors="replace")
        if expect_ok and result.returncode != 0:
            fail(f"chunkcache {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        if not expect_ok and result.returncode == 0:
            fail(f"chunkcache {' '.join(args)} should have failed")
        return result

    def restore(self, snapshot, extra=()):
        out = os.path.join(self.work, "restored.img")
        self.cli_run(["restore", *self.remote, "--snapshot", snapshot, "--out", out,
                      "--no-progress", *extra])
        if os.path.exists(out):
            os.unlink(out)

    def read(self, snapshot, offset, length, expect_ok=True):
        return self.cli_run(["read", *self.remote, "--snapshot", snapshot, "--offset", str(offset),
                             "--length", str(length)], expect_ok)

    def bench(self, snapshot, seconds, pattern="random", size="256KiB", concurrency=4):
        self.cli_run(["bench", *self.remote, "--snapshot", snapshot, "--concurrency",
                      str(concurrency), "--request-size", size, "--pattern", pattern,
                      "--duration", f"{seconds}s"])

    def nbd(self, snapshot):
        """The NBD export: a block status map (nbdinfo) and a copy of the archive (nbdcopy)."""
        uri = f"nbd://127.0.0.1:{self.nbd_port}/demo/{snapshot}/{ARCHIVE}"
        out = os.path.join(self.work, "nbd.img")
        for argv in (["/usr/bin/nbdinfo", "--map", uri], ["/usr/bin/nbdcopy", uri, out]):
            result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, errors="replace")
            if result.returncode != 0:
                fail(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
        if os.path.exists(out):
            os.unlink(out)

    def errors(self):
        self.read(DAY1, 1 << 40, 4096, expect_ok=False)                          # OUT_OF_RANGE
        self.read("vm/999/2026-01-01T00:00:00Z", 0, 4096, expect_ok=False)       # NOT_FOUND
        self.read(OTHER, 0, 12 * CHUNK, expect_ok=False)   # DATA_LOSS: the corrupted chunk

    def short(self):
        """Enough for every panel: misses, hits, hinted hits, readahead, evictions, errors."""
        self.restore(DAY1)                       # cold: misses, upstream fetches, readahead
        self.restore(DAY1)                       # warm: hits and hinted hits
        self.restore(DAY2, ["--stream"])         # the next day: mostly hits, two misses
        self.cli_run(["stat", *self.remote, "--snapshot", DAY1])
        self.read(OTHER, 0, 4 * CHUNK)           # more distinct chunks than the cache holds
        self.errors()
        self.bench(DAY1, 3)
        self.nbd(DAY1)

    def long(self, seconds):
        """Varied load for a picture: restores, random reads, cache churn, idle time."""
        end = time.monotonic() + seconds
        phase = 0
        while time.monotonic() < end:
            step = phase % 6
            if step == 0:
                self.restore(DAY1)
                time.sleep(3)
                self.restore(DAY1, ["--stream"])
            elif step == 1:
                self.bench(DAY1, 5, "random", "1MiB", 1)
                time.sleep(5)
            elif step == 2:
                self.restore(DAY2, ["--stream"])
                self.read(OTHER, 0, 4 * CHUNK)       # pushes day 1 chunks out of the cache
                self.read(OTHER, 4 * CHUNK, 4 * CHUNK)
                time.sleep(5)
            elif step == 3:
                self.restore(DAY1)                   # misses for what was pushed out
                self.errors()
                self.cli_run(["stat", *self.remote, "--snapshot", DAY1])
                time.sleep(5)
            elif step == 4:
                self.restore(DAY2)
                self.bench(DAY2, 5, "sequential", "4MiB", 1)
                self.nbd(DAY2)                       # the NBD row
            else:
                time.sleep(10)
            phase += 1


# --- checks against Prometheus ----------------------------------------------------------------

def numbers(result):
    values = []
    for series in result["data"]["result"]:
        if "value" in series:
            values.append(float(series["value"][1]))
        values.extend(float(v) for _, v in series.get("values", []))
    return [v for v in values if not math.isnan(v)]


def check_targets(prometheus, dashboard, variables):
    checked = 0
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], variables)
            answer = prometheus_api(prometheus, "/api/v1/query", query=expr)
            checked += 1
            name = f"panel {panel['title']!r} target {target['refId']}"
            if answer.get("status") != "success":
                fail(f"{name}: query failed: {answer.get('error')}\n  {expr}")
            elif not answer["data"]["result"]:
                fail(f"{name}: empty result\n  {expr}")
            elif not numbers(answer):
                fail(f"{name}: only NaN\n  {expr}\n  {answer['data']['result']}")
            else:
                print(f"ok  {name}: {len(answer['data']['result'])} series", flush=True)
    return checked


def check_rules(prometheus):
    answer = prometheus_api(prometheus, "/api/v1/rules")
    groups = answer["data"]["groups"]
    if {g["name"] for g in groups} != {"chunkcache.recording", "chunkcache.alerts"}:
        fail(f"rule groups loaded: {[g['name'] for g in groups]}")
    active = set()
    for group in groups:
        for rule in group["rules"]:
            name = rule.get("name")
            if rule.get("health") != "ok":
                fail(f"rule {name}: health {rule.get('health')}: {rule.get('lastError')}")
            if rule["type"] == "recording":
                result = prometheus_api(prometheus, "/api/v1/query", query=name)
                if not result["data"]["result"]:
                    fail(f"recorded series {name} has no data")
                else:
                    print(f"ok  recording rule {name}: {len(result['data']['result'])} series")
            elif rule.get("state") in ("pending", "firing"):
                active.add(name)
    if active != {"ChunkcacheCorruptChunks"}:
        fail(f"active alerts {sorted(active)}, expected only ChunkcacheCorruptChunks "
             "(one chunk was corrupted)")
    else:
        print("ok  alert ChunkcacheCorruptChunks is active, no other alert is")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                        help="directory of chunkcached and chunkcache")
    parser.add_argument("--dashboard", default=os.path.join(ROOT, "deploy/grafana/chunkcache.json"))
    parser.add_argument("--rules", default=os.path.join(ROOT, "deploy/prometheus/chunkcache.rules.yml"))
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    parser.add_argument("--traffic-seconds", type=int, default=0,
                        help="after the short traffic, this long of varied load (for --render)")
    parser.add_argument("--render", metavar="PNG",
                        help="render the dashboard from the live data to PNG (scripts/render-dashboard.py)")
    parser.add_argument("--cache-bytes", default="64MiB",
                        help="chunkcached's cache size; day 1 alone has 52 MiB of distinct chunks")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    with open(args.dashboard) as f:
        dashboard = json.load(f)
    check_structure(dashboard)

    for program in (os.path.join(args.bin, "chunkcached"), os.path.join(args.bin, "chunkcache"),
                    args.prometheus):
        if not os.access(program, os.X_OK):
            print(f"FAIL: {program} is missing (build, or scripts/install-deps.sh)")
            return 1
    cli = os.path.join(args.bin, "chunkcache")
    work = tempfile.mkdtemp(prefix="chunkcache-dashboard-")
    processes = []
    try:
        store = make_datastore(cli, work)
        ports_file = os.path.join(work, "ports")
        # Less than the three snapshots' distinct chunks, so there are evictions.
        daemon_log = open(os.path.join(work, "chunkcached.log"), "w")
        daemon = subprocess.Popen(
            [os.path.join(args.bin, "chunkcached"), "--listen", "127.0.0.1:0",
             "--metrics-listen", "127.0.0.1:0", "--datastore", f"demo={store}",
             "--cache-dir", os.path.join(work, "cache"), "--cache-bytes", args.cache_bytes,
             "--nbd-listen", "127.0.0.1:0", "--port-file", ports_file],
            stdout=daemon_log, stderr=subprocess.STDOUT)
        processes.append((daemon, "chunkcached"))
        if not wait_for("chunkcached's port file", lambda: "metrics_port=" in open(ports_file).read(), 30):
            return 1
        ports = dict(line.split("=") for line in open(ports_file).read().split())
        server = f"127.0.0.1:{ports['grpc_port']}"
        metrics_target = f"127.0.0.1:{ports['metrics_port']}"

        web_port = free_port()
        prometheus = f"http://127.0.0.1:{web_port}"
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    f"rule_files:\n  - {os.path.abspath(args.rules)}\n"
                    "scrape_configs:\n  - job_name: chunkcache\n"
                    f"    static_configs:\n      - targets: ['{metrics_target}']\n")
        prom_log = open(os.path.join(work, "prometheus.log"), "w")
        prom = subprocess.Popen(
            [args.prometheus, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        processes.append((prom, "prometheus"))
        if not wait_for("Prometheus to scrape chunkcached", lambda: prometheus_api(
                prometheus, "/api/v1/query", query="up")["data"]["result"][0]["value"][1] == "1", 60):
            return 1
        start = time.time()
        time.sleep(3)  # a few idle scrapes first, so that rates start from the counters at rest

        traffic = Traffic(cli, server, work, int(ports["nbd_port"]))
        traffic.short()
        if args.traffic_seconds:
            traffic.long(args.traffic_seconds)

        # Wait until Prometheus has scraped the final counters.
        final = http_get(f"http://{metrics_target}/metrics")
        lookups = sum(float(line.split()[-1]) for line in final.splitlines()
                      if line.startswith("chunkcache_chunk_lookups_total{"))
        wait_for("Prometheus to scrape the final counters", lambda: numbers(prometheus_api(
            prometheus, "/api/v1/query", query="sum(chunkcache_chunk_lookups_total)")) == [lookups], 30)
        time.sleep(2)  # and to evaluate the rules on them

        # $instance as Grafana writes a regex value into a PromQL string: backslashes doubled.
        instance = re.escape(metrics_target).replace("\\", "\\\\")
        variables = {"datasource": "prometheus", "instance": instance,
                     "__rate_interval": "1m", "__interval": "15s", "__range": "10m",
                     "__range_s": "600", "__interval_ms": "15000"}
        checked = check_targets(prometheus, dashboard, variables)
        expected = sum(len(p.get("targets", [])) for p in all_panels(dashboard))
        if checked != expected or checked == 0:
            fail(f"checked {checked} targets of {expected}")
        check_rules(prometheus)
        # The instance variable's own query: label_values(METRIC, instance).
        for variable in dashboard["templating"]["list"]:
            match = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable.get("definition", ""))
            if variable["type"] != "query":
                continue
            if not match:
                fail(f"variable {variable['name']}: unexpected query {variable.get('definition')!r}")
                continue
            answer = prometheus_api(prometheus, f"/api/v1/label/{match.group(2)}/values",
                                    **{"match[]": match.group(1)})
            if metrics_target not in answer.get("data", []):
                fail(f"variable {variable['name']}: {match.group(0)} gave {answer.get('data')}")
            else:
                print(f"ok  variable {variable['name']}: {match.group(0)} = {answer['data']}")

        if args.render:
            end = time.time()
            render = subprocess.run(
                ["/usr/bin/python3", os.path.join(ROOT, "scripts/render-dashboard.py"),
                 "--prometheus", prometheus, "--dashboard", args.dashboard,
                 "--instance", re.escape(metrics_target), "--start", str(int(start)),
                 "--end", str(int(end)), "--out", args.render])
            if render.returncode != 0:
                fail(f"render-dashboard.py exited {render.returncode}")
        print(f"{checked} dashboard targets checked", flush=True)
    finally:
        for process, name in reversed(processes):
            stop(process, name)
        if failures:
            for log in ("chunkcached.log", "prometheus.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    print(f"--- {log} (last lines)")
                    print("".join(open(path).readlines()[-20:]))
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
