#!/usr/bin/env bash
# The README's main job: build, start ligerbenchd locally, submit the quick suite and wait for
# its result table (on the GPU when one is visible, else CPU), show where /metrics is, stop the
# server. The job and its results stay in build/quick/ligerbench.db; results-quick.json too.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" --target ligerbench ligerbenchd ligerbench-worker

state="$build/quick"
mkdir -p "$state"
log="$state/ligerbenchd.log"
# Ports 0: any free ones (the server prints where it listens); loopback only.
# LIGERBENCH_METRICS_LISTEN=off runs without the Prometheus endpoint.
"$build"/server/ligerbenchd --config configs/server.yaml --listen 127.0.0.1:0 \
  --metrics-listen "${LIGERBENCH_METRICS_LISTEN:-127.0.0.1:0}" \
  --db "$state/ligerbench.db" >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null && wait $server 2>/dev/null; true' EXIT
for _ in $(seq 1 600); do
  grep -q "serving" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
line=$(head -1 "$log")
echo "$line"
addr=$(sed -n 's/.*BenchService on \([^ ]*\) .*/\1/p' <<<"$line")
metrics=$(sed -n 's/.*metrics on \(http[^,]*\),.*/\1/p' <<<"$line")

status=0
"$build"/harness/ligerbench submit configs/suites/quick.yaml --server "$addr" --wait --out results-quick.json || status=$?

echo
if [ -n "$metrics" ]; then
  echo "Prometheus metrics: $metrics (a long-running server: ligerbenchd --config configs/server.yaml serves them on http://127.0.0.1:9464/metrics)"
  if command -v curl >/dev/null; then
    curl -s "$metrics" | grep -E '^ligerbench_(kernel_speedup_ratio|jobs_total|cases_total)' || true
  fi
else
  echo "Prometheus metrics: off (LIGERBENCH_METRICS_LISTEN=off)"
fi
exit $status
