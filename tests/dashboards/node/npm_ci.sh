#!/bin/sh
# Installs the pinned npm packages of package-lock.json (@grafana/schema, typescript,
# dockerfile-utils) into WORK_DIR, once per lockfile: the schema check and the Dockerfile lint
# run from there, so the source tree gets no node_modules.
# usage: npm_ci.sh WORK_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1
mkdir -p "$work"
if [ -d "$work/node_modules" ] && cmp -s "$here/package-lock.json" "$work/package-lock.json"; then
  echo "npm packages already installed in $work (same package-lock.json)"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is not installed (Debian package npm; .ci/run installs it)" >&2; exit 1; }
cp "$here/package.json" "$here/package-lock.json" "$work/"
cd "$work"
npm ci --no-audit --no-fund --ignore-scripts
