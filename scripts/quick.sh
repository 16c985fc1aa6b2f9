#!/usr/bin/env bash
# The README's main job: build, start ligerbenchd locally, submit the quick suite and wait for
# its result table (on the GPU when one is visible, else CPU), then say where everything is.
# The server stops at the end unless LIGERBENCH_KEEP_SERVER=1 (then it keeps serving gRPC and
# /metrics until you stop it). The job and its results stay in build/quick/ligerbench.db and
# results-quick.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh  # the build's Debian packages, when missing
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" --target ligerbench ligerbenchd ligerbench-worker

state="$build/quick"
mkdir -p "$state"
log="$state/ligerbenchd.log"
db="$state/ligerbench.db"
results=results-quick.json
cli="$build/harness/ligerbench"
keep=${LIGERBENCH_KEEP_SERVER:-0}
# Ports 0: any free ones (the server prints where it listens); loopback only.
# LIGERBENCH_METRICS_LISTEN=off runs without the Prometheus endpoint.
"$build"/server/ligerbenchd --config configs/server.yaml --listen 127.0.0.1:0 \
  --metrics-listen "${LIGERBENCH_METRICS_LISTEN:-127.0.0.1:0}" --db "$db" >"$log" 2>&1 &
server=$!
[ "$keep" = 1 ] || trap 'kill -TERM $server 2>/dev/null && wait $server 2>/dev/null; true' EXIT
for _ in $(seq 1 600); do
  grep -q "serving" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
line=$(head -1 "$log")
addr=$(sed -n 's/.*BenchService on \([^ ]*\) .*/\1/p' <<<"$line")
metrics=$(sed -n 's/.*metrics on \(http[^,]*\),.*/\1/p' <<<"$line")
echo "ligerbenchd on $addr (log: $log)"

# Progress: a bar on a terminal; without one, only the table.
quiet=()
[ -t 2 ] || quiet=(--quiet)
status=0
# stdout: the job id, then the result table.
"$cli" submit configs/suites/quick.yaml --server "$addr" --wait "${quiet[@]}" --out "$results" |
  tee "$state/submit.out" || status=$?
job=$(head -1 "$state/submit.out")

echo
echo "== Where things are"
echo "  results (JobResult JSON): $results"
echo "  database (every job, event and result): $db, job ${job:-?}"
if [ -s "$results" ] && "$cli" report "$results" --html "$state/report.html" >/dev/null 2>"$state/report.err"; then
  echo "  report (one self-contained HTML page): $state/report.html"
else
  echo "  report: not written ($(head -c 300 "$state/report.err" 2>/dev/null))"
fi
if [ -n "$metrics" ] && command -v curl >/dev/null; then
  echo "  counters from $metrics:"
  curl -s "$metrics" | grep -E '^ligerbench_(jobs|cases)_total' | sort | sed 's/^/    /' || true
fi
echo
if [ "$keep" = 1 ]; then
  echo "== The server keeps running (pid $server); stop it with: kill $server"
  echo "  $cli jobs --server $addr                 # its jobs, newest first"
  echo "  $cli results ${job:-JOB_ID} --server $addr     # a job's table again"
  [ -n "$metrics" ] && echo "  curl -s $metrics | grep '^ligerbench_'   # what Prometheus scrapes"
else
  echo "== The server has stopped. To look at /metrics and the jobs of a running server:"
  echo "  LIGERBENCH_KEEP_SERVER=1 scripts/quick.sh   # the same, and the server keeps running"
  echo "  or: $build/server/ligerbenchd --config configs/server.yaml --db $db"
  echo "      then: curl -s http://127.0.0.1:9464/metrics | grep '^ligerbench_'"
  echo "            $cli jobs --server 127.0.0.1:50051"
fi
exit $status
