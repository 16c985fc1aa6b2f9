#!/usr/bin/env python3
"""`ligerbench report --html` rendered by Debian's headless Chromium, checked through its DOM.

Three pages: a real CPU run of the quick suite; that run against a second real run (the
comparison view); and data/cuda_fields_results.json, a fixture with made-up figures in the
shape of a CUDA run, for the sections a CPU run leaves empty (%copy, peak memory). For each,
Chromium's --dump-dom (the page as the browser parsed it) is read back, and every chart must
hold the data points the result file implies: counted and valued here from the JSON itself.
Also: the page loads nothing from outside (no script, link, img or external href), and a
screenshot of the CPU report is kept (report.png in the work folder). Standard library only.
"""
import argparse
import collections
import html.parser
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


class Failure(Exception):
    pass


class Dom(html.parser.HTMLParser):
    """Charts (svg.chart) with their points (.point data-value), empty-section notes, table rows,
    and anything that would load from outside."""

    def __init__(self):
        super().__init__()
        self.charts = collections.OrderedDict()  # data-chart -> [(series, label, value)]
        self.empty, self.rows, self.external = set(), collections.Counter(), []
        self._chart, self._table, self._tbody = None, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "svg" and "chart" in classes:
            self._chart = a["data-chart"]
            if self._chart in self.charts:
                raise Failure(f"two charts named {self._chart}")
            self.charts[self._chart] = []
        elif "point" in classes:
            if self._chart is None:
                raise Failure(f"a point outside any chart: {a}")
            self.charts[self._chart].append((a.get("data-series"), a.get("data-label"), float(a["data-value"])))
        if tag == "p" and "empty" in classes:
            self.empty.add(a.get("data-empty"))
        if tag == "table":
            self._table = a.get("class") or "table"
        if tag == "tbody":
            self._tbody = True
        if tag == "tr" and self._table and self._tbody:
            self.rows[self._table] += 1
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.external.append(tag)
        for k in ("src", "href"):
            if k in a and not a[k].startswith("#"):
                self.external.append(f"{tag} {k}={a[k]}")

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        if tag == "table":
            self._table = None
        if tag == "tbody":
            self._tbody = False


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def chromium(args, work):
    profile = tempfile.mkdtemp(dir=work, prefix="chromium-profile-")
    try:
        return run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args])
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dom_of(page, work):
    d = Dom()
    d.feed(chromium(["--dump-dom", "file://" + os.path.abspath(page)], work))
    if d.external:
        raise Failure(f"{page} is not self-contained: {d.external}")
    for chart, points in d.charts.items():
        if not points:
            raise Failure(f"{page}: chart {chart} has no data points")
        if not all(math.isfinite(v) and v > 0 for _, _, v in points):
            raise Failure(f"{page}: chart {chart} has a point that is not a positive number: {points}")
    return d


def expect(cond, what):
    if not cond:
        raise Failure(what)


def close(a, b):
    return abs(a - b) <= 1e-4 * max(abs(a), abs(b))


def check_report(page, result, work, cuda):
    d = dom_of(page, work)
    cases = [c for c in result["cases"] if c["ok"]]
    # Speedup: one bar per (kernel dtype, mode) with liger speedups, their geometric mean.
    groups = collections.defaultdict(list)
    for c in cases:
        s = c["spec"]
        if s["provider"] == "liger" and c["speedup"] > 0:
            groups[(f"{s['kernel']} {s['dtype']}", s["mode"])].append(c["speedup"])
    got = {(label, series): v for series, label, v in d.charts.get("speedup", [])}
    expect(len(got) == len(groups) > 0, f"{page}: speedup chart has {len(got)} bars, expected {len(groups)}")
    for k, v in groups.items():
        expect(close(got[k], math.exp(sum(map(math.log, v)) / len(v))), f"{page}: speedup bar {k}: {got[k]} vs {v}")
    # Latency: a chart per kernel and mode, a point per case.
    latency = {k: v for k, v in d.charts.items() if k.startswith("latency:")}
    expect(sorted(latency) == sorted({f"latency:{c['spec']['kernel']} {c['spec']['mode']}" for c in cases}),
           f"{page}: latency charts {sorted(latency)}")
    expect(sum(map(len, latency.values())) == len(cases),
           f"{page}: {sum(map(len, latency.values()))} latency points for {len(cases)} cases")
    # %copy and memory: points from a CUDA run, an explicit note otherwise.
    copy = [c for c in cases if c.get("throughput", {}).get("size_matched_fraction", 0) > 0]
    memory = [c for c in cases if c.get("memory", {}).get("measured")]
    for name, want in (("copy", copy), ("memory", memory)):
        if cuda:
            expect(len(d.charts.get(name, [])) == len(want) > 0, f"{page}: {name} chart has "
                   f"{len(d.charts.get(name, []))} points for {len(want)} cases")
        else:
            expect(name not in d.charts and name in d.empty, f"{page}: a CPU run must say {name} was not measured")
    if cuda:
        values = sorted(v for _, _, v in d.charts["copy"])
        expect(all(close(a, b) for a, b in zip(values, sorted(100 * c["throughput"]["size_matched_fraction"] for c in copy))),
               f"{page}: %copy values {values}")
        values = sorted(v for _, _, v in d.charts["memory"])
        expect(all(close(a, b) for a, b in zip(values, sorted(int(c["memory"]["peak_bytes"]) / 1048576 for c in memory))),
               f"{page}: memory values {values}")
    # Error table: a row per checked tensor, and one per case that did not run.
    tensors = sum(len(c.get("accuracy", {}).get("tensors", [])) for c in cases) + len(result["cases"]) - len(cases)
    expect(d.rows["errors"] == tensors, f"{page}: error table has {d.rows['errors']} rows, expected {tensors}")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--results", required=True, help="a real run of the quick suite (cli_quick_suite's)")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    if shutil.which("chromium") is None:
        raise Failure("chromium is not installed (Debian package chromium; .ci/run installs it)")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    with open(a.results) as f:
        cpu = json.load(f)

    page = os.path.join(a.work, "report.html")
    run([a.cli, "report", a.results, "--html", page])
    d = check_report(page, cpu, a.work, cuda=False)
    points = sum(map(len, d.charts.values()))
    print(f"{page}: {len(d.charts)} charts, {points} points, {d.rows['errors']} error-table rows")
    chromium(["--screenshot=" + os.path.join(a.work, "report.png"), "--window-size=1400,4000",
              "file://" + os.path.abspath(page)], a.work)
    expect(os.path.getsize(os.path.join(a.work, "report.png")) > 10000, "the screenshot is empty")

    # The comparison: the quick run against a second, real run of two of its kernels.
    second = os.path.join(a.work, "second.json")
    run([a.cli, "run", os.path.join(a.source, "configs", "suites", "quick.yaml"), "--device", "cpu",
         "--filter", "^(rms_norm|softmax)\\|", "--out", second, "--quiet"])
    with open(second) as f:
        cur = json.load(f)
    page2 = os.path.join(a.work, "comparison.html")
    run([a.cli, "report", a.results, second, "--html", page2])
    d2 = check_report(page2, cur, a.work, cuda=False)
    base = {c["spec"]["key"]: c for c in cpu["cases"]}
    matched = [c for c in cur["cases"] if c["spec"]["key"] in base]
    want = {c["spec"]["key"]: c["timing"]["median_ms"] / base[c["spec"]["key"]]["timing"]["median_ms"]
            for c in matched if c["ok"] and base[c["spec"]["key"]]["ok"]}
    got = sorted(v for _, _, v in d2.charts["comparison"])
    expect(len(got) == len(want) > 0 and all(close(x, y) for x, y in zip(got, sorted(want.values()))),
           f"{page2}: comparison ratios {got} vs {sorted(want.values())}")
    expect(d2.rows["comparison"] == len(matched), f"{page2}: comparison table has {d2.rows['comparison']} rows "
           f"for {len(matched)} cases in both files")
    print(f"{page2}: comparison of {len(want)} cases")

    fixture = os.path.join(a.source, "tests", "dashboards", "data", "cuda_fields_results.json")
    with open(fixture) as f:
        gpu = json.load(f)
    page3 = os.path.join(a.work, "cuda_fields.html")
    run([a.cli, "report", fixture, "--html", page3])
    d3 = check_report(page3, gpu, a.work, cuda=True)
    print(f"{page3}: %copy {len(d3.charts['copy'])} points, memory {len(d3.charts['memory'])} points")

    # Bad input: a clear error naming the file, exit 2, no page written.
    bad = subprocess.run([a.cli, "report", os.path.join(a.work, "missing.json"), "--html",
                          os.path.join(a.work, "never.html")], capture_output=True, text=True, timeout=60)
    expect(bad.returncode == 2 and "missing.json" in bad.stderr and not os.path.exists(os.path.join(a.work, "never.html")),
           f"a missing result file: exit {bad.returncode}, {bad.stderr!r}")
    print("html report: 3 pages rendered in Chromium, every chart with its data points")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
