#!/usr/bin/env bash
# ci/nightly.sh end to end on the tiny CPU suite, in a scratch folder:
#   1. no baseline yet: the run becomes the baseline, exit 0;
#   2. a rerun given with --current (the first run's result under another start time: the
#      script's flow is tested here, compare's false-alarm rate in compare_cli_test.cpp):
#      compared, summary + JUnit written, clean, the baseline moves to it;
#   3. a result with a planted regression (its first case errors): exit 1, the summary says
#      REGRESSION, and the baseline stays where it was;
#   4. five more clean reruns: each replaced baseline moves into history/ (numbered, oldest
#      first), compare gets them as --history, and only the last 5 are kept.
#   tests/ci/nightly_test.sh LIGERBENCH_CLI WORK_DIR
set -euo pipefail
cli=$1 work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
export GITHUB_STEP_SUMMARY="$work/step_summary.md"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1   # as in compare_cli_test.cpp: neighbours become outliers
suite="$root/tests/ci/data/compare_tiny.yaml"
run() { "$root/ci/nightly.sh" --cli "$cli" --suite "$suite" --device cpu --threshold 10% \
          --branch test/nightly --state-dir "$work/state" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
baseline="$work/state/test_nightly/baseline.json"

run --out-dir "$work/out1" || fail "first run exited $?"
[ -f "$baseline" ] || fail "no baseline after the first run"
grep -q "no baseline yet" "$GITHUB_STEP_SUMMARY" || fail "step summary lacks the first-run note"
sed 's/"started_at": "/"started_at": "rerun /' "$work/out1/current.json" >"$work/beside.json"
cmp -s "$work/beside.json" "$baseline" && fail "the rerun's edit changed nothing"

run --out-dir "$work/out2" --current "$work/beside.json" || fail "second run exited $? (a false alarm?): $(cat "$work/out2/compare.txt")"
head -1 "$work/out2/summary.md" | grep -q "^## ligerbench compare: no regression" || fail "summary: $(head -1 "$work/out2/summary.md")"
grep -q "<testsuites " "$work/out2/junit.xml" || fail "no JUnit file"
cmp -s "$baseline" "$work/beside.json" || fail "the clean second run did not become the baseline"
history="$work/state/test_nightly/history"
[ -f "$history/000001.json" ] || fail "the previous baseline was not kept"
cmp -s "$history/000001.json" "$work/out1/current.json" || fail "the replaced baseline is not history/000001.json"

# The first case stops running ("ok": false): compare must call it a regression.
sed '0,/"ok": true/s//"ok": false/' "$work/beside.json" >"$work/planted.json"
cmp -s "$work/planted.json" "$work/beside.json" && fail "the planted edit changed nothing"
set +e
run --out-dir "$work/out3" --current "$work/planted.json"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a planted regression exited $rc, not 1"
head -1 "$work/out3/summary.md" | grep -q "REGRESSION (1 regression" || fail "summary: $(head -1 "$work/out3/summary.md")"
grep -q "<failure " "$work/out3/junit.xml" || fail "JUnit has no failure"
cmp -s "$baseline" "$work/beside.json" || fail "a regressed run replaced the baseline"
[ "$(grep -c "## ligerbench" "$GITHUB_STEP_SUMMARY")" -eq 3 ] || fail "the step summary does not hold the three runs"
grep -q "spread over 1 earlier run" "$work/out3/compare.txt" || fail "compare did not get the history: $(tail -1 "$work/out3/compare.txt")"
[ "$(ls "$history")" = "000001.json" ] || fail "a regressed run changed the history: $(ls "$history")"

# Five more clean reruns: history/ holds the 5 newest replaced baselines, 000002 .. 000006.
for i in 3 4 5 6 7; do
  sed "s/\"started_at\": \"/\"started_at\": \"rerun $i /" "$work/out1/current.json" >"$work/rerun$i.json"
  run --out-dir "$work/rot$i" --current "$work/rerun$i.json" >/dev/null || fail "clean rerun $i exited $?"
done
[ "$(ls "$history" | tr '\n' ' ')" = "000002.json 000003.json 000004.json 000005.json 000006.json " ] ||
  fail "history after 6 replaced baselines: $(ls "$history" | tr '\n' ' ')"
cmp -s "$history/000002.json" "$work/beside.json" || fail "history/000002.json is not the second baseline"
cmp -s "$history/000006.json" "$work/rerun6.json" || fail "history/000006.json is not the baseline rerun 7 replaced"
cmp -s "$baseline" "$work/rerun7.json" || fail "the last clean rerun did not become the baseline"
grep -q "spread over 5 earlier runs" "$work/rot7/compare.txt" || fail "the last compare did not get 5 history runs: $(tail -1 "$work/rot7/compare.txt")"

# Bad input: an unknown option and a bad branch name exit 2.
set +e
run --out-dir "$work/out4" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option did not exit 2"
"$root/ci/nightly.sh" --cli "$cli" --branch '../x' >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad branch did not exit 2"
set -e
echo "nightly.sh: first run, clean rerun, planted regression and history rotation behave"
