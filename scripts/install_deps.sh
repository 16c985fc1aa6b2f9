#!/usr/bin/env bash
# Installs with apt-get the Debian packages ligerbench builds with (and, with --tests, the tools
# its tests start: Prometheus, the Pushgateway, Chromium, xmllint, Node.js, docker-compose),
# asking only for what is missing. Used by .ci/run and scripts/quick.sh.
#   scripts/install_deps.sh [--tests]
# LIGERBENCH_SKIP_INSTALL=1 skips it (the GPU node: its packages come unpacked from .gpu/).
# libopenblas0-openmp: without it libtorch-dev's BLAS is Debian's reference libblas3, whose
# sgemm ran the quick suite's MLP cases at about 1 GFLOP/s (T 64 swiglu MLP forward 7.9 ms, 0.28 ms
# with OpenBLAS); the OpenMP build shares LibTorch's OpenMP runtime instead of adding threads.
set -euo pipefail
[ "${LIGERBENCH_SKIP_INSTALL:-0}" = 1 ] && exit 0
packages="cmake ninja-build g++ ccache libtorch-dev libgrpc++-dev libprotobuf-dev protobuf-compiler
protobuf-compiler-grpc libyaml-cpp-dev prometheus-cpp-dev libgtest-dev libgmock-dev libsqlite3-dev
libssl-dev libre2-dev pkg-config libgloo-dev libopenblas0-openmp"
if [ "${1:-}" = --tests ]; then
  packages="$packages prometheus prometheus-pushgateway libxml2-utils chromium python3 docker-compose"
fi
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ "${1:-}" = --tests ]; then
  # Node.js and npm are asked for by command, not by package: a machine whose nodejs comes
  # from NodeSource has npm inside it, and Debian's npm package conflicts with that nodejs.
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
echo "installing: $missing"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
