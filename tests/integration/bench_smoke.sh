#!/usr/bin/env bash
# The benchmark still runs: a tiny pass of tests/bench/run.sh on the test
# build, with /var/lib/cni on its own journaled ext4 (--data-fs ext4). Checks
# the figures docs/benchmarks.md quotes are in its JSON, and that it leaves no
# namespace, mount, loop device or image behind. It times nothing.
set -euo pipefail
SRC=${PODNET_SRC:?}
BIN=${PODNET_BIN:?}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
for tool in g++ gcc mkfs.ext4 unshare losetup; do command -v "$tool" >/dev/null || { echo "SKIP: no $tool" >&2; exit 77; }; done
[ -x /usr/lib/cni/ptp ] || { echo "SKIP: no reference plugins" >&2; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no loop devices (--data-fs ext4 mounts an image)" >&2; exit 77; }

T=$(mktemp -d "/tmp/podnet-test.${PODNET_TEST_ID:-x}.bench-smoke.XXXXXX")
trap 'rm -rf "$T"' EXIT
before_fs=$(ls -d /tmp/*podnet-bench-fs.* 2>/dev/null | sort || true)

# BENCH_BUILD only holds the driver and its helpers here; the binaries are the test build's.
set +e
BENCH_NO_BUILD=1 BENCH_BUILD="$T/build" BENCH_BIN="$BIN" bash "$SRC/tests/bench/run.sh" \
  --quick --pods 4 --parallel 2 --rounds 1 --startup-reps 2 --no-ipam --data-fs ext4 \
  --json "$T/results.json" >"$T/out" 2>"$T/err"
rc=$?
set -e
fail() { echo "FAIL: $*" >&2; tail -30 "$T/err" >&2; exit 1; }
[ $rc = 0 ] || fail "run.sh exited $rc"

python3 - "$T/results.json" <<'EOF' || fail "results.json lacks a figure"
import json, math, sys
j = json.load(open(sys.argv[1]))
r = j["ratios_podnet_over_reference"]
for key in ["server ADD p50", "libcni ADD p50", "exec ADD p50", "server ADD throughput",
            "libcni ADD throughput", "noop libcni ADD p50", "noop libcni ADD throughput",
            "noop server ADD throughput", "ADD peak rss", "floor ip -batch DEL"]:
    v = r.get(key)
    assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (key, v)
assert not j["errors"], j["errors"]
assert "podnet-bench-fs." in j["config"]["pod_dataDirs"], j["config"]["pod_dataDirs"]
EOF
grep -q "no-op/ref: ADD p50" "$T/out" || fail "no no-op bound in the table"
grep -q "journaled ext4" "$T/err" || fail "--data-fs ext4 was not used"

# Nothing left: namespaces, the image's mount and loop device, the image itself.
bench_ns() { ip netns list | grep -e '^pnbench' -e "^pn${PODNET_TEST_ID:-none}-bench" || true; }
[ -z "$(bench_ns)" ] || fail "namespaces left: $(bench_ns)"
! grep -q podnet-bench-fs /proc/mounts || fail "a mount left"
! losetup -a | grep -q podnet-bench-fs || fail "a loop device left"
after_fs=$(ls -d /tmp/*podnet-bench-fs.* 2>/dev/null | sort || true)
[ "$before_fs" = "$after_fs" ] || fail "an image directory left: $after_fs"
echo "bench smoke: ok"
