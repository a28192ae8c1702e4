#!/usr/bin/env bash
# podnet's benchmark against the reference plugins (ptp + host-local).
#   sudo bash tests/bench/run.sh [--quick] [--json FILE] [podnet-bench options...]
# Builds a Release tree without sanitizers (BENCH_BUILD, default build-bench),
# compiles the driver, and runs it. Everything happens inside network
# namespaces named pnbench<PID>-*; this script deletes every one of them on
# exit, whatever happened.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD:-$SRC/build-bench}
REF_CNI=${REF_CNI:-/usr/lib/cni}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 77; }

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPODNET_SANITIZE=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target podnet podnet-ipam cnitool >/dev/null
fi
mkdir -p "$BUILD/bench"
DRIVER=$BUILD/bench/podnet-bench
if [ ! -x "$DRIVER" ] || [ "$SRC/tests/bench/podnet_bench.cpp" -nt "$DRIVER" ]; then
  ${CXX:-g++} -std=c++20 -O2 -Wall -Wextra -o "$DRIVER" "$SRC/tests/bench/podnet_bench.cpp" -pthread
fi

NOOP=$BUILD/bench/plugins/podnet-bench-noop
mkdir -p "$BUILD/bench/plugins"
if [ ! -x "$NOOP" ] || [ "$SRC/tests/bench/noop_plugin.c" -nt "$NOOP" ]; then
  ${CC:-gcc} -O2 -static -o "$NOOP" "$SRC/tests/bench/noop_plugin.c" 2>/dev/null ||
    ${CC:-gcc} -O2 -o "$NOOP" "$SRC/tests/bench/noop_plugin.c"
fi

RSS=$BUILD/bench/podnet-bench-rss
if [ ! -x "$RSS" ] || [ "$SRC/tests/bench/rss_spawn.c" -nt "$RSS" ]; then
  ${CC:-gcc} -O2 -static -o "$RSS" "$SRC/tests/bench/rss_spawn.c" 2>/dev/null ||
    ${CC:-gcc} -O2 -o "$RSS" "$SRC/tests/bench/rss_spawn.c"
fi

PREFIX=pnbench$$
cleanup() {
  local rc=$? ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$DRIVER" --bin "${BENCH_BIN:-$BUILD/bin}" --ref "$REF_CNI" --noop-dir "$BUILD/bench/plugins" --rss-helper "$RSS" --prefix "$PREFIX" "$@"
