#!/usr/bin/env bash
# The README's main job: build, then run the quick suite (on the GPU when one is visible, else CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" --target ligerbench
"$build"/harness/ligerbench run configs/suites/quick.yaml --out results-quick.json
