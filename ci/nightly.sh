#!/usr/bin/env bash
# The nightly regression job in one command: run the nightly suite (locally, or submitted to a
# ligerbenchd server), compare it with the last clean night of the same branch, write the
# Markdown summary and JUnit file, push the metrics to a Pushgateway, and make this run the new
# baseline when the comparison is clean. docs/COMPARE.md explains the method.
#
#   ci/nightly.sh [--suite FILE] [--server HOST:PORT] [--device DEV] [--branch NAME]
#                 [--state-dir DIR] [--out-dir DIR] [--push-gateway URL] [--push-job NAME]
#                 [--threshold PCT] [--memory-threshold PCT] [--current RESULT.json] [--cli PATH]
#
# The baseline is a result file, $STATE_DIR/<branch>/baseline.json, kept on the runner: it needs
# no server-side state (a job's labels stay what it was submitted with) and works the same for
# local and server runs. --current compares an existing result instead of running the suite.
# The last 5 baselines a clean run replaced are kept in $STATE_DIR/<branch>/history/ and given to
# compare as --history: a case whose median moved between them by more than its threshold is
# judged at that spread (the drift between processes that one run's interval cannot see).
# Exit status: compare's (0 clean, 1 regression, 2 bad input, 3 server unreachable).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

suite="$root/configs/suites/nightly.yaml"
server="" device="" current="" push="" push_job="ligerbench_nightly"
branch="${GITHUB_REF_NAME:-$(git -C "$root" rev-parse --abbrev-ref HEAD 2>/dev/null || echo main)}"
state_dir="${LIGERBENCH_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ligerbench-nightly}"
out_dir="nightly-out"
cli="${LIGERBENCH_CLI:-}"
compare_opts=()

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "nightly.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) need "$@"; suite=$2; shift 2 ;;
    --server) need "$@"; server=$2; shift 2 ;;
    --device) need "$@"; device=$2; shift 2 ;;
    --branch) need "$@"; branch=$2; shift 2 ;;
    --state-dir) need "$@"; state_dir=$2; shift 2 ;;
    --out-dir) need "$@"; out_dir=$2; shift 2 ;;
    --push-gateway) need "$@"; push=$2; shift 2 ;;
    --push-job) need "$@"; push_job=$2; shift 2 ;;
    --threshold|--memory-threshold) need "$@"; compare_opts+=("$1" "$2"); shift 2 ;;
    --current) need "$@"; current=$2; shift 2 ;;
    --cli) need "$@"; cli=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "nightly.sh: unknown option '$1'" >&2; usage ;;
  esac
done
if [ -z "$cli" ]; then
  if [ -x "$root/build/harness/ligerbench" ]; then cli="$root/build/harness/ligerbench"; else cli=ligerbench; fi
fi
# The branch names a folder: keep it to a safe set of characters.
case "$branch" in
  ""|*[!A-Za-z0-9._/-]*|*..*) echo "nightly.sh: branch '$branch': use letters, digits, '.', '_', '-', '/'" >&2; exit 2 ;;
esac
slot="$state_dir/${branch//\//_}"
mkdir -p "$slot" "$out_dir"
baseline="$slot/baseline.json"
# Earlier clean baselines, numbered 000001.json, ... (oldest first), at most $keep_history.
history="$slot/history" keep_history=5
mkdir -p "$history"
history_files() { local f; for f in "$history"/[0-9][0-9][0-9][0-9][0-9][0-9].json; do [ ! -f "$f" ] || echo "$f"; done; }
push_opts=()
[ -z "$push" ] || push_opts=(--push-gateway "$push" --push-job "$push_job" --push-instance "${branch//\//_}")

# 1. The run. A run whose cases fail (exit 1) still goes to compare, which decides whether a
#    failure is new; usage errors (2) and an unreachable server (3) stop here.
if [ -z "$current" ]; then
  current="$out_dir/current.json"
  started=$(date +%s)
  set +e
  if [ -n "$server" ]; then
    "$cli" submit "$suite" --server "$server" --wait --quiet --out "$current" "${push_opts[@]}"
  else
    "$cli" run "$suite" --quiet --out "$current" ${device:+--device "$device"} "${push_opts[@]}" >"$out_dir/run.txt"
  fi
  rc=$?
  set -e
  [ "$rc" -le 1 ] && [ -f "$current" ] || { echo "nightly.sh: the run failed (exit $rc)" >&2; exit "$rc"; }
  echo "nightly.sh: suite ran in $(( $(date +%s) - started )) s" >&2
fi

summary="$out_dir/summary.md"
publish() { if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$summary" >>"$GITHUB_STEP_SUMMARY"; fi; }

# 2. No baseline yet: this run becomes it.
if [ ! -f "$baseline" ]; then
  printf '## ligerbench nightly: no baseline yet\n\nNo earlier clean run of branch `%s`: this run (%s) is the baseline from now on.\n' \
    "$branch" "$current" >"$summary"
  cp "$current" "$baseline.tmp" && mv "$baseline.tmp" "$baseline"
  publish
  echo "nightly.sh: no baseline for $branch; $current is the new baseline ($baseline)" >&2
  exit 0
fi

# 3. Compare (with the earlier baselines as history), write the summary and JUnit, push the verdicts.
history_opts=()
while IFS= read -r f; do history_opts+=(--history "$f"); done < <(history_files)
set +e
"$cli" compare "$baseline" "$current" --markdown "$summary" --junit "$out_dir/junit.xml" \
  --json "$out_dir/compare.json" "${compare_opts[@]}" "${history_opts[@]}" "${push_opts[@]}" | tee "$out_dir/compare.txt"
rc=${PIPESTATUS[0]}
set -e
[ ! -f "$summary" ] || publish

# 4. Clean: this run is the new baseline; the previous one moves into the history, whose oldest
#    beyond $keep_history are deleted.
if [ "$rc" -eq 0 ]; then
  last=$(history_files | tail -n 1)
  last=${last##*/}
  last=${last%.json}
  next=$(printf '%06d' $(( 10#${last:-0} + 1 )))
  cp "$baseline" "$history/$next.json.tmp" && mv "$history/$next.json.tmp" "$history/$next.json"
  history_files | head -n -"$keep_history" | while IFS= read -r f; do rm -f "$f"; done
  cp "$current" "$baseline.tmp" && mv "$baseline.tmp" "$baseline"
  echo "nightly.sh: clean; $current is the new baseline of $branch" >&2
else
  echo "nightly.sh: compare exited $rc; the baseline of $branch stays $baseline" >&2
fi
exit "$rc"
