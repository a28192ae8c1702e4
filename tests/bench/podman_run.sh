#!/usr/bin/env bash
# End-to-end `podman run --rm ... true` time, podnet against the reference
# ptp + host-local (same conflist shape: one IPv4 /16 range, a default route,
# leases in the test's dir), and `--network none` as podman's own floor.
#   sudo bash tests/bench/podman_run.sh [--runs N] [--warmup N]
#   make -f Makefile.e2e podman-bench [PODMAN_BENCH_ARGS="--runs 50"]
# Builds a Release tree without sanitizers (BENCH_BUILD, default build-bench;
# BENCH_NO_BUILD=1 and BENCH_BIN=DIR to use binaries already built). podman
# 4.3 with its CNI backend and runc, a busybox-static rootfs (no image pull),
# storage and state in a temp dir, run in one node namespace with
# `nsenter --net`; the three networks alternate, the order rotating each round.
# Prints a table (median, p90, min, max in ms) and the podnet/ptp ratios.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PODNET_SRC=$SRC
BUILD=${BENCH_BUILD:-$SRC/build-bench}
RUNS=20
WARMUP=3
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--warmup N]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "podman-bench: needs root (network namespaces)" >&2; exit 77; }
if [ -z "${PN_PRIVATE_MOUNTS:-}" ] && [ -z "${BENCH_NO_BUILD:-}" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPODNET_SANITIZE=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target podnet podnet-ipam >/dev/null
fi
export PODNET_BIN=${BENCH_BIN:-$BUILD/bin}

source "$SRC/tests/lib/runtime.sh"
pn_runtime_private_mounts "$0" --runs "$RUNS" --warmup "$WARMUP"
source "$SRC/tests/lib/common.sh"
pn_runtime_sandbox

node=$(pn_node podman)
netconf=$PN_TMP/net.d
mkdir -p "$netconf"
pn_podnet_conflist podnet 10.88.0.0/16 "$PN_TMP/leases" >"$netconf/podnet.conflist"
pn_ptp_conflist ptp 10.89.0.0/16 "$PN_TMP/leases" >"$netconf/ptp.conflist"
rootfs=$PN_TMP/rootfs
pn_busybox_rootfs "$rootfs"
pn_podman_setup "$node" "$netconf"
before=$(pn_state "$node" "$PN_TMP/leases")

nets=(podnet ptp none)
run_once() {
  local net=$1 t0 t1
  t0=$(date +%s%N)
  pn_podman_run "$node" --rm --network "$net" --rootfs "$rootfs" true >/dev/null ||
    pn_fail "podman run on $net"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

for ((i = 0; i < WARMUP; i++)); do
  for net in "${nets[@]}"; do run_once "$net" >/dev/null; done
done
declare -A samples
for ((i = 0; i < RUNS; i++)); do
  for ((k = 0; k < ${#nets[@]}; k++)); do
    net=${nets[$(((i + k) % ${#nets[@]}))]}
    samples[$net]+="$(run_once "$net") "
  done
done
pn_expect_eq "$(pn_state "$node" "$PN_TMP/leases")" "$before" "node after the runs"

# stats US...: median p90 min max, in ms with one decimal (nearest-rank p90).
stats() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {
    n = NR; med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    r = int(0.9 * n + 0.999999); if (r < 1) r = 1
    printf "%.1f %.1f %.1f %.1f\n", med / 1000, v[r] / 1000, v[1] / 1000, v[n] / 1000 }'
}

echo
echo "podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR == 1 {print $3}'), $RUNS runs per network (after $WARMUP warm-up), alternating"
printf '%-28s %9s %9s %9s %9s\n' "network" "median ms" "p90 ms" "min ms" "max ms"
declare -A med p90
for net in "${nets[@]}"; do
  # shellcheck disable=SC2086
  read -r m p lo hi <<<"$(stats ${samples[$net]})"
  med[$net]=$m
  p90[$net]=$p
  case $net in
    podnet) label="podnet (podnet-ipam)" ;;
    ptp) label="ptp + host-local (ref)" ;;
    none) label="--network none (floor)" ;;
  esac
  printf '%-28s %9s %9s %9s %9s\n' "$label" "$m" "$p" "$lo" "$hi"
done
awk -v a="${med[podnet]}" -v b="${med[ptp]}" -v c="${p90[podnet]}" -v d="${p90[ptp]}" -v f="${med[none]}" 'BEGIN {
  printf "podnet/ptp: median %.2fx, p90 %.2fx\n", a / b, c / d
  printf "network share of the median (minus --network none): podnet %.1f ms, ptp %.1f ms\n", a - f, b - f }'
