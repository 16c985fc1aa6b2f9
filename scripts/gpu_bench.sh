#!/usr/bin/env bash
# The anchor-shape measurement on a GPU node, after scripts/gpu.sh has built build-gpu: the
# largest shape of every kernel in full.yaml (and BT 4096 for jsd and fused_linear_jsd, the
# anchors' shape), as in ../shared/reference/ANCHORS_H100.md. Table and JSON land in
# ${OUT:-gpu-out}. FILTER replaces the case filter (a regex on the case key); extra arguments go
# to `ligerbench run`. About 2 minutes on an H200.
set -eo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
source .gpu/env.sh
filter=${FILTER:-'[|,]B?T=8192[,|]|^(jsd|fused_linear_jsd)\|BT=4096[,|]'}
build-gpu/harness/ligerbench run configs/suites/full.yaml --device cuda --out "$out/anchor.json" \
  --filter "$filter" "$@" | tee "$out/anchor.txt"
