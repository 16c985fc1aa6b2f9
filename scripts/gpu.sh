#!/usr/bin/env bash
# Build and test on a GPU node against the CUDA LibTorch inside the PyTorch wheel
# (the recipe of shared/device/README.md). Run from the project root with .gpu/ carried along:
#   scripts/gpu.sh [ctest args]    every test binary (or, with args, the ctest selection they name);
#                                  logs and results land in ${OUT:-gpu-out}
set -eo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
source .gpu/env.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" 2>&1 | tail -5
cmake --build build-gpu -j16 2>&1 | tee "$out/build.log" | grep -E "error|FAILED|warning" | head -50 || true
test -x build-gpu/harness/ligerbench
if [ $# -gt 0 ]; then  # a ctest selection, e.g. -R Embedding
  ctest --test-dir build-gpu -j12 --output-on-failure "$@" > "$out/ctest.log" 2>&1 || true
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$out/ctest.log" | tail -40
  exit 0
fi
# Every case, one process per test binary: ctest would start each of the ~1250 discovered cases
# in its own process, and on the GPU node each pays LibTorch and CUDA start-up (2-3 s): more than
# 9 minutes at -j12 on the H200, where kernel_tests alone runs its ~1200 cases in about 90 s.
for t in kernel_tests harness_tests server_tests; do
  rc=0
  build-gpu/tests/$t > "$out/$t.log" 2>&1 || rc=$?
  echo "$t: exit $rc, $(grep -E '^\[  (PASSED|FAILED)  \]' "$out/$t.log" | tr '\n' ' ')"
done
ctest --test-dir build-gpu -R '^cli_' --output-on-failure > "$out/ctest_cli.log" 2>&1 || true
grep -E "tests passed|tests failed" "$out/ctest_cli.log"
