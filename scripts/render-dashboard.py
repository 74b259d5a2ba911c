#!/usr/bin/python3
"""Renders the chunkcache Grafana dashboard to a PNG from a live Prometheus.

Runs every target of the dashboard's panels (deploy/grafana/chunkcache.json) through
/api/v1/query_range with the dashboard variables filled in, and draws the panels with
matplotlib in the dashboard's own layout: the stat panels as a band of figures on top, then the
time series panels on a grid, with their titles, legends and units.

  scripts/render-dashboard.py --prometheus http://127.0.0.1:9090 --start -15m --out dash.png

docs/dashboard.png comes from a real run of the service, made by the dashboard test:

  tests/deploy/dashboard_test.py --bin build/bin --traffic-seconds 240 --render docs/dashboard.png

Needs /usr/bin/python3 with python3-matplotlib (Debian).
"""
import argparse
import datetime
import json
import math
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr, values):
    def replace(match):
        return values[match.group(1) or match.group(2)]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


def query(prometheus, path, **params):
    url = f"{prometheus}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as response:
        answer = json.load(response)
    if answer.get("status") != "success":
        raise RuntimeError(f"{params.get('query')}: {answer.get('error')}")
    return answer["data"]["result"]


def legend(fmt, labels):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in labels.items()) or "value"


def scaled(value, steps, suffix):
    for factor, unit in steps:
        if abs(value) >= factor:
            return f"{value / factor:.3g} {unit}{suffix}"
    return f"{value:.3g} {suffix}".rstrip()


BINARY = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]


def format_value(value, unit, decimals=None):
    if value is None or math.isnan(value):
        return "–"
    if decimals is not None and unit not in ("percentunit", "bytes", "Bps", "s"):
        value = round(value, decimals)
    if unit == "percentunit":
        return f"{100 * value:.1f}%"
    if unit == "bytes":
        return scaled(value, BINARY, "") if value else "0 B"
    if unit == "Bps":
        return scaled(value, BINARY, "/s") if value else "0 B/s"
    if unit == "s":
        if value == 0:
            return "0 s"
        if value < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if value < 1:
            return f"{value * 1e3:.3g} ms"
        return f"{value:.3g} s"
    decimal = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
    if unit in ("ops", "reqps"):
        return scaled(value, decimal, "/s").replace(" /s", "/s") if value else "0/s"
    return scaled(value, decimal, "").strip() if value else "0"


def axis_formatter(unit):
    return FuncFormatter(lambda v, _pos: format_value(v, unit))


def stacked(panel):
    return panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}) \
        .get("stacking", {}).get("mode", "none") == "normal"


def override_names(panel, prop_id, value_test):
    names = set()
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override.get("matcher", {})
        for prop in override.get("properties", []):
            if prop.get("id") == prop_id and value_test(prop.get("value")):
                names.add((matcher.get("id"), matcher.get("options")))
    return names


def target_on_right(panel, target):
    return ("byFrameRefID", target["refId"]) in override_names(
        panel, "custom.axisPlacement", lambda v: v == "right")


def draw_timeseries(ax, panel, series_list):
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    custom = panel["fieldConfig"]["defaults"].get("custom", {})
    unstacked = override_names(panel, "custom.stacking", lambda v: v.get("mode") == "none")
    right_axis = override_names(panel, "custom.axisPlacement", lambda v: v == "right")
    log_scale = custom.get("scaleDistribution", {}).get("type") == "log"
    bars = custom.get("drawStyle") == "bars"
    ax2 = None
    base = None
    # Several quantiles of one series (p50, p99): one colour per series, a line style per target.
    colors = {}
    styles = {}
    for ref_id, name, labels, times, values in series_list:
        target_ax = ax
        color = colors.setdefault(labels, f"C{len(colors) % 10}")
        style = styles.setdefault(ref_id, ["-", "--", ":", "-."][len(styles) % 4])
        if ("byFrameRefID", ref_id) in right_axis:
            ax2 = ax2 or ax.twinx()
            target_ax = ax2
            color = "C3"
        if stacked(panel) and ("byName", name) not in unstacked:
            lower = base if base is not None and len(base) == len(values) else [0.0] * len(values)
            upper = [lo + (0 if math.isnan(v) else v) for lo, v in zip(lower, values)]
            line, = target_ax.plot(times, upper, linewidth=1, label=name)
            target_ax.fill_between(times, lower, upper, alpha=0.35, color=line.get_color(),
                                   linewidth=0)
            base = upper
        elif bars:
            width = (times[1] - times[0]) * 0.9 if len(times) > 1 else 0.0005
            target_ax.bar(times, values, width=width, label=name)
        else:
            dashed = ("byName", name) in unstacked
            target_ax.plot(times, values, linewidth=1.8 if dashed else 1.2,
                           linestyle="--" if dashed else style, color="red" if dashed else color,
                           label=name)
    if log_scale:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(axis_formatter(unit))
    if "min" in panel["fieldConfig"]["defaults"] and "max" in panel["fieldConfig"]["defaults"]:
        ax.set_ylim(panel["fieldConfig"]["defaults"]["min"], panel["fieldConfig"]["defaults"]["max"] * 1.02)
    if log_scale:
        ax.yaxis.set_major_formatter(axis_formatter(unit))
    if ax2 is not None:
        ax2.set_ylim(bottom=0)
        ax2.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=7))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if ax2 is not None:
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:  # below the plot, as Grafana shows it
        ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.1),
                  ncol=min(4, len(handles)), frameon=False, handlelength=1.5, columnspacing=1)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def parse_time(text, now):
    m = re.fullmatch(r"-(\d+)([smh])", text)
    if m:
        return now - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    return float(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--dashboard", default=os.path.join(ROOT, "deploy/grafana/chunkcache.json"))
    parser.add_argument("--instance", default=".*",
                        help="value of $instance, a regex, e.g. '10\\.0\\.0\\.7:9470' or '.*'")
    parser.add_argument("--start", default="-15m", help="unix seconds or -15m, -1h, ...")
    parser.add_argument("--end", default="-0s", help="unix seconds or -0s")
    parser.add_argument("--step", type=float, help="seconds between points (default: range/300)")
    parser.add_argument("--rate-interval", default="15s", help="value of $__rate_interval")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--dpi", type=int, default=72)
    args = parser.parse_args()

    now = time.time()
    start, end = parse_time(args.start, now), parse_time(args.end, now)
    step = args.step or max(1.0, round((end - start) / 300))
    with open(args.dashboard) as f:
        dashboard = json.load(f)
    # As Grafana writes a regex variable into a PromQL string: backslashes doubled.
    values = {"datasource": "prometheus", "instance": args.instance.replace("\\", "\\\\"),
              "__rate_interval": args.rate_interval, "__interval": f"{int(step)}s",
              "__range": f"{int(end - start)}s", "__range_s": str(int(end - start)),
              "__interval_ms": str(int(step * 1000))}

    panels = [p for p in all_panels(dashboard) if p.get("type") in ("stat", "timeseries")]
    stats = [p for p in panels if p["type"] == "stat"]
    series_panels = sorted((p for p in panels if p["type"] == "timeseries"),
                           key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    columns = 3
    rows = math.ceil(len(series_panels) / columns)
    fig = plt.figure(figsize=(18, 1.2 + 3.4 * rows))
    grid = fig.add_gridspec(rows + 1, columns, height_ratios=[0.25] + [1] * rows,
                            hspace=0.75, wspace=0.2, left=0.05, right=0.97, top=0.95, bottom=0.03)
    window = f"{datetime.datetime.fromtimestamp(start, datetime.timezone.utc):%Y-%m-%d %H:%M}" \
             f"–{datetime.datetime.fromtimestamp(end, datetime.timezone.utc):%H:%M} UTC"
    shown = args.instance.replace("\\", "")
    fig.suptitle(f"{dashboard.get('title', 'dashboard')}   ({window}, instance {shown})",
                 fontsize=14, x=0.05, ha="left")

    # Stat panels: one value each over the whole range, in a band on top.
    band = fig.add_subplot(grid[0, :])
    band.axis("off")
    for i, panel in enumerate(sorted(stats, key=lambda p: p["gridPos"]["x"])):
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        target = panel["targets"][0]
        result = query(args.prometheus, "/api/v1/query",
                       query=substitute(target["expr"], values), time=end)
        value = float(result[0]["value"][1]) if result else float("nan")
        x = (i + 0.5) / len(stats)
        band.text(x, 0.72, panel["title"], ha="center", va="center", fontsize=10, color="#444")
        decimals = panel["fieldConfig"]["defaults"].get("decimals")
        band.text(x, 0.22, format_value(value, unit, decimals), ha="center", va="center", fontsize=20,
                  weight="bold", color="#1f60c4")

    for i, panel in enumerate(series_panels):
        ax = fig.add_subplot(grid[1 + i // columns, i % columns])
        series_list = []
        for target in panel["targets"]:
            result = query(args.prometheus, "/api/v1/query_range",
                           query=substitute(target["expr"], values), start=start, end=end, step=step)
            for series in sorted(result, key=lambda s: sorted(s["metric"].items())):
                times = [datetime.datetime.fromtimestamp(float(t), datetime.timezone.utc)
                         for t, _ in series["values"]]
                points = [float(v) for _, v in series["values"]]
                series_list.append((target["refId"], legend(target.get("legendFormat"), series["metric"]),
                                    (target["refId"] if target_on_right(panel, target) else "")
                                    + repr(sorted(series["metric"].items())), times, points))
        draw_timeseries(ax, panel, series_list)
        ax.set_title(panel["title"], fontsize=10.5, loc="left")
        ax.set_xlim(datetime.datetime.fromtimestamp(start, datetime.timezone.utc),
                    datetime.datetime.fromtimestamp(end, datetime.timezone.utc))

    fig.savefig(args.out, dpi=args.dpi)
    print(f"wrote {args.out} ({os.path.getsize(args.out) // 1024} KiB, {len(stats)} stats, "
          f"{len(series_panels)} time series panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
