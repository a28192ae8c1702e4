#!/usr/bin/env bash
# podnet's benchmark against the reference plugins (ptp + host-local).
#   sudo bash tests/bench/run.sh [--quick] [--json FILE] [--data-fs ext4] [podnet-bench options...]
# --data-fs ext4: /var/lib/cni (the pods' dataDirs and libcni's result cache)
# on a fresh journaled ext4, a loop image mounted in a mount namespace of the
# bench's own, as a node's disk would be (see README.md there).
# Builds a Release tree without sanitizers (BENCH_BUILD, default build-bench),
# compiles the driver, and runs it. Everything happens inside network
# namespaces named pnbench<PID>-*; this script deletes every one of them on
# exit, whatever happened.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD:-$SRC/build-bench}
REF_CNI=${REF_CNI:-/usr/lib/cni}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 77; }

DATA_FS=
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --data-fs)
      DATA_FS=${2:-}
      shift 2 || { echo "bench: --data-fs needs a value (ext4)" >&2; exit 2; }
      ;;
    *) args+=("$1"); shift ;;
  esac
done
case $DATA_FS in
  "" | ext4) ;;
  *) echo "bench: --data-fs: only ext4 is known" >&2; exit 2 ;;
esac

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

# Under the test harness (tests/lib/run_test.sh) names carry the test's ID, so
# that what a killed run leaves is found and removed by it.
PREFIX=pnbench$$
TMPNAME=/tmp/podnet-bench-fs
if [ -n "${PODNET_TEST_ID:-}" ]; then
  PREFIX=pn$PODNET_TEST_ID-bench
  TMPNAME=/tmp/podnet-test.$PODNET_TEST_ID.podnet-bench-fs
fi
FSDIR=
cleanup() {
  local rc=$? ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  # The image's mount lived in the driver's mount namespace, gone with it.
  [ -z "$FSDIR" ] || rm -rf "$FSDIR"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run=("$DRIVER" --bin "${BENCH_BIN:-$BUILD/bin}" --ref "$REF_CNI" --noop-dir "$BUILD/bench/plugins"
  --rss-helper "$RSS" --prefix "$PREFIX" "${args[@]}")
if [ "$DATA_FS" = ext4 ]; then
  FSDIR=$(mktemp -d "$TMPNAME.XXXXXX")
  truncate -s 4G "$FSDIR/img"
  mkfs.ext4 -q -F "$FSDIR/img"
  mkdir "$FSDIR/mnt"
  echo "bench: /var/lib/cni on a journaled ext4 (loop image $FSDIR/img, mounted only in the bench's mount namespace)" >&2
  # A private mount namespace: the mount (and its loop device) end with the driver.
  unshare -m --propagation private sh -c 'mount -o loop "$1/img" "$1/mnt" && shift && exec "$@"' \
    sh "$FSDIR" "${run[@]}" --data-dir "$FSDIR/mnt"
else
  "${run[@]}"
fi
