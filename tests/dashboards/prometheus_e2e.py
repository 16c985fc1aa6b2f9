#!/usr/bin/env python3
"""Every query of every Grafana panel, evaluated by a real Prometheus that scraped a real server.

Starts ligerbenchd (ports 0, as scripts/quick.sh does) and Debian's prometheus-pushgateway on
loopback, submits configs/suites/quick.yaml, backfills a week of history of that run's speedup
and latency gauges (so the "1 day / 7 days ago" queries and the 7-day baselines have data),
starts Debian's prometheus with dashboards/prometheus/prometheus.yml (targets, intervals and rule
paths rewritten for loopback and a test that lasts seconds) and our rules, submits part of the
quick suite again while Prometheus scrapes, pushes the two runs' `ligerbench compare` verdicts
and a real H200 result file (`ligerbench push`) to the Pushgateway, then resolves every dashboard's template variables with label_values through Prometheus's HTTP
API and evaluates every panel target (range targets with query_range, instant ones with query).

Fails when a query is invalid, when a variable has no values, when a query returns no series
(except, on a node without a GPU, queries that read only CUDA-only metrics: those must still be
valid and are listed, and return series on the pushed H200 run), when a rule does not evaluate
cleanly, or when the accuracy alert is not quiet for the live node and firing for exactly the
pushed run's failed cases. Python standard library only.
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
import time
import urllib.error
import urllib.parse
import urllib.request

# Gauges the server sets only where a CUDA device measured them (peak memory from the caching
# allocator, roofline fractions from the device's measured ceilings).
CUDA_ONLY = ("ligerbench_kernel_peak_memory_bytes", "ligerbench_kernel_size_matched_copy_ratio",
             "ligerbench_kernel_bandwidth_ratio", "ligerbench_kernel_compute_ratio")
# The gauges whose history the regressions dashboard compares against (offset 1d / 7d, 7d median).
HISTORY = ("ligerbench_kernel_speedup_ratio", "ligerbench_kernel_latency_seconds")
# Grafana's built-in variables, as the test sets them: $__rate_interval spans the second run.
BUILTINS = {"__rate_interval": "2m", "__interval": "15s", "__range": "1h"}
NIGHTLY_JOB = "ligerbench_nightly"
# The instance label of the pushed H200 run (push_gpu_run); the kernel-performance dashboard is
# evaluated a second time with $node pinned to it, and there every query must return series.
GPU_INSTANCE = "h200-fixture"
DEADLINE_S = 240
SECOND_RUN_FILTER = r"^(rms_norm|softmax)\|"


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, data=None, method=None, timeout=10):
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "text/plain; version=0.0.4")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


class Processes:
    def __init__(self, work):
        self.work, self.procs = work, []

    def start(self, name, argv):
        logf = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p, logf))
        return p

    def log_of(self, name):
        with open(os.path.join(self.work, name + ".log")) as f:
            return f.read()

    def check_alive(self):
        for name, p, _ in self.procs:
            if p.poll() is not None:
                raise Failure(f"{name} exited with {p.returncode}:\n{self.log_of(name)[-3000:]}")

    def stop(self):
        for name, p, logf in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            logf.close()


def wait_for(what, fn, procs, timeout=60, interval=0.2):
    end = time.time() + timeout
    while time.time() < end:
        procs.check_alive()
        try:
            v = fn()
            if v:
                return v
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            pass
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


def submit(cli, addr, suite, out, filter=None):
    t0 = time.time()
    r = subprocess.run([cli, "submit", suite, "--server", addr, "--wait", "--quiet", "--out", out] +
                       (["--filter", filter] if filter else []), capture_output=True, text=True, timeout=DEADLINE_S)
    if r.returncode != 0:
        raise Failure(f"ligerbench submit exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    with open(out) as f:
        result = json.load(f)
    log(f"submitted {os.path.basename(suite)}{' --filter ' + filter if filter else ''}: "
        f"{len(result['cases'])} cases in {time.time() - t0:.1f} s")
    return result


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$')


def backfill(metrics_text, extra_labels, data_dir, work):
    """A week of history of HISTORY's series, from this run's values: every 12 hours over 8 days,
    and every minute around 1 and 7 days ago (where the offset queries look). promtool writes a
    block per 2 hours that holds samples, so sparse history keeps this to seconds."""
    now = time.time()
    stamps = sorted({now - h * 3600 for h in range(4, 8 * 24, 12)} |
                    {now - d * 86400 + m * 60 for d in (1, 7) for m in range(-15, 16)})
    by_family = {}
    for line in metrics_text.splitlines():
        m = SAMPLE.match(line)
        if not m or m.group(1) not in HISTORY:
            continue
        labels = (m.group(2) or "{}")[1:-1]
        labels = ",".join(x for x in (labels, extra_labels) if x)
        by_family.setdefault(m.group(1), []).append((labels, m.group(3)))
    if sorted(by_family) != sorted(HISTORY):
        raise Failure(f"the server's /metrics lacks {set(HISTORY) - set(by_family)} after the quick suite")
    path = os.path.join(work, "history.om")
    with open(path, "w") as f:
        for name, series in by_family.items():
            f.write(f"# TYPE {name} gauge\n")
            for labels, value in series:
                for t in stamps:
                    f.write(f"{name}{{{labels}}} {value} {t:.3f}\n")
        f.write("# EOF\n")
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", path, data_dir],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Failure(f"promtool tsdb create-blocks-from failed:\n{r.stdout}\n{r.stderr}")
    n = sum(len(s) for s in by_family.values())
    log(f"backfilled {n} series x {len(stamps)} samples (8 days) into {data_dir}")


def rewrite(text, replacements, what):
    for old, new in replacements:
        if old not in text:
            raise Failure(f"{what}: expected '{old}' to rewrite for the test; the file changed, update this test")
        text = text.replace(old, new)
    return text


def prepare_config(source, work, server_target, pushgateway_target):
    prom_dir = os.path.join(source, "dashboards", "prometheus")
    rules = []
    for name in ("recording.yml", "alerts.yml"):
        with open(os.path.join(prom_dir, "rules", name)) as f:
            text = f.read()
        # Groups evaluate every second here (1m and 5m in production).
        text = re.sub(r"^(\s+)interval: \S+$", r"\1interval: 1s", text, flags=re.M)
        out = os.path.join(work, name)
        with open(out, "w") as f:
            f.write(text)
        rules.append(out)
    with open(os.path.join(prom_dir, "prometheus.yml")) as f:
        config = f.read()
    config = rewrite(config, [("scrape_interval: 15s", "scrape_interval: 1s"),
                              ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                              ("rules/recording.yml", rules[0]), ("rules/alerts.yml", rules[1]),
                              ("'ligerbenchd:9464'", f"'{server_target}'"),
                              ("'pushgateway:9091'", f"'{pushgateway_target}'")], "prometheus.yml")
    path = os.path.join(work, "prometheus.yml")
    with open(path, "w") as f:
        f.write(config)
    r = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure(f"promtool check config of the rewritten config failed:\n{r.stdout}{r.stderr}")
    return path


def case_id(c):
    s = c["spec"]
    return (s["kernel"], s["provider"], s["mode"], s["dtype"], s["shape_label"], s["device"])


def push_compare(cli, pushgateway, work):
    """`ligerbench compare --push-gateway` of the two runs: ligerbench_compare_ratio and
    ligerbench_compare_cases under the nightly job. Exit 1 (a regression: two CPU runs under
    load may differ past the threshold) is as good as 0 here; the families are what is tested."""
    r = subprocess.run([cli, "compare", os.path.join(work, "results-1.json"), os.path.join(work, "results-2.json"),
                        "--quiet", "--push-gateway", f"http://{pushgateway}", "--push-job", NIGHTLY_JOB,
                        "--push-instance", "e2e"], capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 1):
        raise Failure(f"ligerbench compare --push-gateway: exit {r.returncode}: {r.stdout}{r.stderr}")
    log(f"ligerbench compare pushed its verdicts to the Pushgateway (exit {r.returncode})")


def push_gpu_run(cli, pushgateway, source):
    """`ligerbench push` of a real H200 result file (softmax and sparsemax of full.yaml, measured
    2026-12-03; samples cut to 16 per case): the CUDA-only gauges this CPU node cannot produce."""
    path = os.path.join(source, "tests", "dashboards", "data", "h200_rowops_results.json")
    r = subprocess.run([cli, "push", path, "--push-gateway", f"http://{pushgateway}", "--push-job", "ligerbench_gpu",
                        "--push-instance", GPU_INSTANCE], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure(f"ligerbench push {path}: exit {r.returncode}: {r.stdout}{r.stderr}")
    log(r.stdout.strip())


class Prom:
    def __init__(self, addr):
        self.base = f"http://{addr}/api/v1/"

    def get(self, path, **params):
        url = self.base + path + "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            body = http(url, timeout=30)
        except urllib.error.HTTPError as e:
            body = e.read().decode()
        r = json.loads(body)
        if r.get("status") != "success":
            raise Failure(f"{r.get('errorType')}: {r.get('error')}")
        return r["data"]


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)


def substitute(text, values):
    def one(m):
        name = m.group(1) or m.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name not in values:
            raise Failure(f"${name} is used before it is resolved")
        return values[name]
    return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", one, text)


def resolve_variables(prom, dashboard, now, pinned=None):
    """Grafana's chained label_values: each variable's query with the earlier ones substituted,
    its first value (or the value `pinned` names, which must be among them) used after it."""
    values = {}
    for v in dashboard["templating"]["list"]:
        if v["type"] == "datasource":
            values[v["name"]] = "prometheus"
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = LABEL_VALUES.match(query)
        if not m:
            raise Failure(f"variable {v['name']}: only label_values(...) queries are understood here: {query}")
        params = {"start": now - 3600, "end": now}
        if m.group(1):
            params["match[]"] = substitute(m.group(1), values)
        found = prom.get(f"label/{m.group(2)}/values", **params)
        if not found:
            raise Failure(f"variable {v['name']} ({query}) has no values")
        chosen = sorted(found)[0]
        if pinned and v["name"] in pinned:
            chosen = pinned[v["name"]]
            if chosen not in found:
                raise Failure(f"variable {v['name']} ({query}) does not offer {chosen!r}: {sorted(found)}")
        # As Grafana's Prometheus data source formats a value for =~ inside a PromQL string:
        # regex metacharacters escaped, and the backslash itself escaped for the string literal.
        values[v["name"]] = re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", chosen)
        log(f"  ${v['name']} = {chosen!r} (of {len(found)})")
    return values


def evaluate(prom, source, has_cuda, only=None, pinned=None):
    evaluated, with_series, finite, cuda_empty = 0, 0, 0, []
    panels = 0
    for name in sorted(os.listdir(os.path.join(source, "dashboards", "grafana", "dashboards"))):
        if only and name != only:
            continue
        with open(os.path.join(source, "dashboards", "grafana", "dashboards", name)) as f:
            dashboard = json.load(f)
        now = time.time()
        log(f"{name}:")
        values = resolve_variables(prom, dashboard, now, pinned)
        for panel in dashboard["panels"]:
            panels += 1
            for t in panel["targets"]:
                expr = substitute(t["expr"], values)
                where = f"{name}: panel '{panel['title']}' target {t['refId']}"
                try:
                    if t.get("instant"):
                        data = prom.get("query", query=expr, time=now)
                    else:
                        data = prom.get("query_range", query=expr, start=now - 600, end=now, step=5)
                except Failure as e:
                    raise Failure(f"{where}: invalid query: {e}\n  {expr}")
                evaluated += 1
                result = data["result"]
                if data["resultType"] == "scalar":
                    result = [{"value": result}]
                if not result:
                    if not has_cuda and any(m in expr for m in CUDA_ONLY) and \
                            not re.sub("|".join(CUDA_ONLY), "", re.sub(r"\{[^}]*\}", "", expr)).count("ligerbench_"):
                        cuda_empty.append(where)
                        continue
                    raise Failure(f"{where}: no series\n  {expr}")
                with_series += 1
                samples = [s["value"][1] for s in result if "value" in s] + \
                          [v[1] for s in result for v in s.get("values", [])]
                if any(math.isfinite(float(x)) for x in samples):
                    finite += 1
    return panels, evaluated, with_series, finite, cuda_empty


def gpu_accuracy_alerts(prom):
    """Active LigerbenchAccuracyFailed alerts of the pushed H200 run, as (kernel, provider) pairs."""
    return {(a["labels"].get("kernel"), a["labels"].get("provider")) for a in prom.get("alerts")["alerts"]
            if a["labels"].get("alertname") == "LigerbenchAccuracyFailed"
            and a["labels"].get("instance") == GPU_INSTANCE}


def check_rules(prom, gpu_failed):
    groups = prom.get("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
    if bad:
        raise Failure("rules that did not evaluate cleanly:\n  " + "\n  ".join(bad))
    alerts = prom.get("alerts")["alerts"]
    active = sorted({a["labels"]["alertname"] for a in alerts})
    log(f"rules: {len(rules)} loaded from {len(groups)} groups, all evaluated with health ok; "
        f"alerts pending or firing: {active or 'none'}")
    # The live node is up and every case of the quick suite passed (submit exited 0): these two
    # must be quiet for it.
    for a in alerts:
        name, instance = a["labels"]["alertname"], a["labels"].get("instance")
        if name in ("LigerbenchNodeDown", "LigerbenchAccuracyFailed") and instance != GPU_INSTANCE:
            raise Failure(f"{name} is active for {instance}, but the node is up and every case passed")
    # The pushed H200 run holds cases that failed their float64 check (the results say so): the
    # accuracy alert must name exactly those kernels and providers.
    alerted = gpu_accuracy_alerts(prom)
    if alerted != gpu_failed:
        raise Failure(f"LigerbenchAccuracyFailed on {GPU_INSTANCE}: alerts for {sorted(alerted)}, "
                      f"but the pushed run failed {sorted(gpu_failed)}")
    log(f"LigerbenchAccuracyFailed fires for the pushed run's failed cases: {sorted(alerted)}")
    return rules


def probe_health(probe, addr):
    """The images' HEALTHCHECK command against the live server, and against a port nobody serves."""
    r = subprocess.run([probe, addr], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or "SERVING" not in r.stdout:
        raise Failure(f"ligerbench-health-probe {addr}: exit {r.returncode}: {r.stdout}{r.stderr}")
    dead = f"127.0.0.1:{free_port()}"
    r2 = subprocess.run([probe, dead], capture_output=True, text=True, timeout=30)
    if r2.returncode != 1:
        raise Failure(f"ligerbench-health-probe {dead} (nothing listening): exit {r2.returncode}, expected 1")
    log(f"health probe: {r.stdout.strip()}; a closed port: exit 1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    a.work, a.build, a.source = map(os.path.abspath, (a.work, a.build, a.source))
    started = time.time()
    for tool in ("prometheus", "promtool", "prometheus-pushgateway"):
        if shutil.which(tool) is None:
            raise Failure(f"{tool} is not installed (Debian packages prometheus, prometheus-pushgateway; .ci/run installs them)")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    data_dir = os.path.join(a.work, "prometheus-data")
    suite = os.path.join(a.source, "configs", "suites", "quick.yaml")
    cli = os.path.join(a.build, "harness", "ligerbench")
    procs = Processes(a.work)
    try:
        procs.start("ligerbenchd", [os.path.join(a.build, "server", "ligerbenchd"), "--config",
                                    os.path.join(a.source, "configs", "server.yaml"), "--listen", "127.0.0.1:0",
                                    "--metrics-listen", "127.0.0.1:0", "--db", os.path.join(a.work, "ligerbench.db")])
        line = wait_for("ligerbenchd to serve", lambda: next(
            (l for l in procs.log_of("ligerbenchd").splitlines() if "serving" in l), None), procs)
        addr = re.search(r"BenchService on (\S+)", line).group(1)
        metrics_url = re.search(r"metrics on (http[^,\s]+)", line).group(1)
        server_target = urllib.parse.urlparse(metrics_url).netloc
        log(f"ligerbenchd: gRPC {addr}, metrics {metrics_url}")
        probe_health(os.path.join(a.build, "harness", "ligerbench-health-probe"), addr)

        pg = f"127.0.0.1:{free_port()}"
        procs.start("pushgateway", ["prometheus-pushgateway", f"--web.listen-address={pg}", "--persistence.file="])
        wait_for("the Pushgateway", lambda: http(f"http://{pg}/-/ready"), procs)

        first = submit(cli, addr, suite, os.path.join(a.work, "results-1.json"))
        has_cuda = any(c["spec"]["device"].startswith("cuda") for c in first["cases"])
        backfill(http(metrics_url), f'job="ligerbench",instance="{server_target}"', data_dir, a.work)

        prom_addr = f"127.0.0.1:{free_port()}"
        config = prepare_config(a.source, a.work, server_target, pg)
        procs.start("prometheus", ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                                   f"--web.listen-address={prom_addr}"])
        prom = Prom(prom_addr)
        wait_for("Prometheus to scrape ligerbenchd and the Pushgateway", lambda: sorted(
            r["metric"]["job"] for r in prom.get("query", query="up == 1")["result"]) == ["ligerbench", "pushgateway"],
            procs)

        # A second, smaller job while Prometheus scrapes: the job, case and histogram series move
        # under its eyes (rates and quantiles), and it is the "current" run of the compare push.
        second = submit(cli, addr, suite, os.path.join(a.work, "results-2.json"), filter=SECOND_RUN_FILTER)
        push_compare(cli, pg, a.work)
        push_gpu_run(cli, pg, a.source)
        recorded = ["kernel:ligerbench_kernel_speedup_ratio:geomean", "case:ligerbench_kernel_speedup_ratio:median_7d",
                    "case:ligerbench_kernel_latency_seconds:median_7d", "ligerbench_compare_cases"]
        wait_for("recording rules and the pushed series", lambda: all(
            prom.get("query", query=m)["result"] for m in recorded), procs)
        time.sleep(3)  # a few more scrapes after the second run's last case

        panels, evaluated, with_series, finite, cuda_empty = evaluate(prom, a.source, has_cuda)
        with open(os.path.join(a.source, "tests", "dashboards", "data", "h200_rowops_results.json")) as f:
            gpu_failed = {(c["spec"]["kernel"], c["spec"]["provider"]) for c in json.load(f)["cases"]
                          if not c.get("accuracy", {}).get("passed", True)}
        wait_for("the accuracy alert on the pushed run", lambda: gpu_accuracy_alerts(prom) == gpu_failed, procs)
        check_rules(prom, gpu_failed)
        for w in cuda_empty:
            log(f"EMPTY (valid; reads only CUDA-only metrics and this node ran on CPU): {w}")
        log(f"evaluated {evaluated} queries of {panels} panels in 3 dashboards through Prometheus's HTTP API: "
            f"{with_series} returned series ({finite} with finite values), {len(cuda_empty)} CUDA-only empty "
            f"on this CPU node; {time.time() - started:.0f} s")
        if with_series + len(cuda_empty) != evaluated:
            raise Failure("count mismatch")
        # The same kernel-performance dashboard on the pushed H200 run: every query, the
        # CUDA-only ones included, must return series there (evaluate raises on an empty one).
        gpu_panels, gpu_evaluated, gpu_series, gpu_finite, _ = evaluate(
            prom, a.source, True, only="kernel-performance.json", pinned={"node": GPU_INSTANCE})
        cuda_queries_covered = sum(1 for w in cuda_empty if w.startswith("kernel-performance.json"))
        log(f"on the pushed H200 run: {gpu_evaluated} queries of {gpu_panels} kernel-performance panels, "
            f"{gpu_series} with series ({gpu_finite} finite), including the {cuda_queries_covered} "
            f"CUDA-only ones empty above")
        if cuda_queries_covered != len(cuda_empty):
            raise Failure("a CUDA-only query outside the kernel-performance dashboard was empty: "
                          + ", ".join(cuda_empty))
    finally:
        procs.stop()


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
