#!/usr/bin/env bash
# Build and test on a GPU node against the CUDA LibTorch inside the PyTorch wheel
# (the recipe of shared/device/README.md). Run from the project root with .gpu/ carried along:
#   scripts/gpu.sh [extra ctest args]          logs and results land in ${OUT:-gpu-out}
set -eo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
source .gpu/env.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" 2>&1 | tail -5
cmake --build build-gpu -j16 2>&1 | tee "$out/build.log" | grep -E "error|FAILED|warning" | head -50 || true
test -x build-gpu/harness/ligerbench
ctest --test-dir build-gpu -j12 --output-on-failure "$@" > "$out/ctest.log" 2>&1 || true
grep -E "tests passed|tests failed|Failed|\*\*\*" "$out/ctest.log" | tail -40
