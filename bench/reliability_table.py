#!/usr/bin/python3
"""Turns the JSON summaries of tests/reliability/reliability_run.py (written by
bench/reliability_soak.sh) into the tables of bench/RESULTS.md's "Reliability" section.

  reliability_table.py soak.json crash.json faults.json clients.json hostile.json
"""

import json
import sys

MIB = 1 << 20


def gib(n):
    return "%.1f GiB" % (n / (1 << 30))


def load_cell(s):
    load = s["load"]
    return "%d callers (%s), %d calls, %.0f s, cache %s, working set %d MiB" % (
        load["callers"], ", ".join("%s %d" % kv for kv in sorted(load["roles"].items())),
        load["calls"], s["seconds"], s["cache_bytes"], s["working_set_mib"])


def expected_errors(load):
    codes = {}
    for role_code, n in load["calls_by_role_and_code"].items():
        code = role_code.split(" ", 1)[1]
        if code != "OK":
            codes[code] = codes.get(code, 0) + n
    return ", ".join("%s %d" % kv for kv in sorted(codes.items())) or "none"


def row(s, injected, figures):
    load = s["load"]
    return "| %s | %s | %s | %s | %s | %d (%d wrong bytes) | %s |" % (
        s["scenario"], load_cell(s), injected, gib(load["bytes_verified"]),
        expected_errors(load), load["unexpected"], load["wrong_bytes"], figures)


def soak(s):
    m = s["memory"]
    figures = ("RssAnon %.1f MiB at %d s, %.1f MiB at the end (max %.1f; slope after warm-up "
               "%.2f MiB/min); pinned after the load %.0f MiB, hinted sets %.0f MiB" % (
                   m["rss_anon_at_warmup_mib"], m["warmup_s"], m["rss_anon_end_mib"],
                   m["rss_anon_max_mib"], m["rss_anon_slope_after_warmup_mib_per_min"],
                   s["pinned_after_load_mib"], s["hinted_bytes_expected_mib"]))
    return row(s, "none", figures + closed_pins(s))


def crash(s):
    r = s["restart"]
    figures = ("listening %.3f s, SERVING %.3f s after the restart; %.0f MiB cached at once; a "
               "full read pass: %d upstream fetches for %d distinct chunks, %s verified, %d "
               "problems" % (r["listening_s"], r["serving_s"], r["cached_mib_after_restart"],
                             r["pass_fetches"], r["pass_distinct_chunks"],
                             gib(r["pass_bytes_verified"]), len(r["pass_problems"])))
    return row(s, "SIGKILL at %.0f s, restart on the same address" % (s["seconds"] / 2),
               figures)


def faults(s):
    phases = s["load"]["hit_latency_by_phase"]
    ratios = s["hit_p99_ratio_to_baseline"]
    hits = ", ".join("%s %.1f ms (%.2f×)" % (p, phases[p]["p99_ms"], ratios[p])
                     for p in ("baseline", "hang", "down", "corrupt", "slow") if p in phases)
    figures = ("hit p99: %s; deadline overrun max %.3f s; node failing %.2f s after the rack "
               "served again; repaired blobs read back: %s, %d problems" % (
                   hits, s["load"]["deadline_overrun_max_s"],
                   s["node_recovery_after_rack_restart_s"] or -1,
                   gib(s["repaired_pass_bytes_verified"]), len(s["repaired_pass_problems"])))
    return row(s, "; ".join(s["faults_injected"]), figures)


def closed_pins(s):
    if "pinned_after_sessions_closed_mib" not in s:
        return ""
    return "; pinned once every session closed %.0f MiB" % s["pinned_after_sessions_closed_mib"]


def clients(s):
    figures = ("cold 4 KiB reads beside them: %d, %d failed, p50 %.1f ms, max %.1f ms; pinned "
               "max %.0f MiB; slow streams got %.2f MB/s; pinned after %.0f MiB, hinted %.0f MiB"
               % (s["cold_probes"], s["cold_probe_failed"], s["cold_probe_p50_ms"],
                  s["cold_probe_max_ms"], s["memory"]["pinned_max_mib"],
                  s["slow_stream_mb_per_s"], s["pinned_after_load_mib"],
                  s["hinted_bytes_expected_mib"]))
    figures += closed_pins(s)
    if s["cold_probe_failures"]:
        figures += "; first failure: " + s["cold_probe_failures"][0][:120]
    return row(s, "%d stalled StreamRange, %d at 1 MB/s" % (s["stalled_streams"],
                                                            s["slow_streams"]), figures)


def hostile(s):
    bad = s["bad_inputs"]
    tried = ", ".join("%s: %s" % (k, ", ".join("%s %d" % kv for kv in sorted(v.items())))
                      for k, v in sorted(bad.items()))
    figures = ("%d sessions opened in %.2f s (%d open after); huge Prefetch answered in at most "
               "%.3f s; fds %d before, %d after; RssAnon max %.1f MiB; pinned after %.0f MiB, "
               "hinted %.0f MiB; hostile calls with an unexpected status: %d" % (
                   s["sessions_tried"], s["sessions_seconds"], s["snapshots_open_after"],
                   s["huge_prefetch_max_s"], s["fds_before"], s["fds_after"],
                   s["memory"]["rss_anon_max_mib"], s["pinned_after_load_mib"],
                   s["hinted_bytes_expected_mib"], len(s["hostile_unexpected"])))
    figures += closed_pins(s)
    return row(s, "%d sessions, %d huge Prefetch (50,000 ranges of 2^63 bytes), %d connections "
               "dropped, %d streams dropped (%s)" % (
                   s["sessions_tried"], s["huge_prefetches"], s["connections_dropped"],
                   s["streams_dropped"], tried), figures)


FORMATS = {"soak": soak, "crash": crash, "faults": faults, "clients": clients,
           "hostile": hostile}


def main():
    print("| scenario | load held | faults injected / bad inputs tried | bytes verified | "
          "expected errors | unexpected | figures |")
    print("|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        with open(path) as f:
            summary = json.load(f)
        print(FORMATS[summary["scenario"]](summary))


if __name__ == "__main__":
    main()
