#!/usr/bin/env bash
# Where one podnet ADD / DEL spends its time: syscall timing (strace -T, -c) and
# instruction counts (valgrind --tool=callgrind), next to ptp + host-local.
#   sudo bash tests/bench/profile.sh [OUTDIR]     (default /tmp/podnet-profile)
# Runs in its own namespaces (a node and one pod), deleted on exit.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BENCH_BIN:-${BENCH_BUILD:-$SRC/build-bench}/bin}
REF=${REF_CNI:-/usr/lib/cni}
OUT=${1:-/tmp/podnet-profile}
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
P=pnprof$$
TMP=$(mktemp -d /tmp/podnet-profile.XXXXXX)
cleanup() {
  local rc=$?
  ip netns delete "$P-node" 2>/dev/null || true
  ip netns delete "$P-pod" 2>/dev/null || true
  for i in 1 2 3 4 5 6 7 8; do ip netns delete "$P-par$i" 2>/dev/null || true; done
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$P-node"
ip netns add "$P-pod"
for i in 1 2 3 4 5 6 7 8; do ip netns add "$P-par$i"; done
ip -n "$P-node" link set lo up

conf() { # TYPE IPAMTYPE
  printf '{"cniVersion":"1.0.0","name":"prof-%s","type":"%s","ipam":{"type":"%s","dataDir":"%s/data-%s","ranges":[[{"subnet":"10.77.0.0/16"}]]}}' \
    "$1" "$1" "$2" "$TMP" "$1"
}
plugin() { # BINARY TYPE IPAM VERB ID [wrapper...]
  local bin=$1 type=$2 ipam=$3 verb=$4 id=$5
  shift 5
  conf "$type" "$ipam" | ip netns exec "$P-node" env -i PATH=/usr/sbin:/usr/bin CNI_COMMAND="$verb" \
    CNI_CONTAINERID="$id" CNI_NETNS="/run/netns/$P-pod" CNI_IFNAME=eth0 CNI_PATH="$BIN:$REF" "$@" "$bin" >/dev/null
}

for impl in "podnet podnet podnet-ipam $BIN/podnet" "ptp ptp host-local $REF/ptp"; do
  read -r name type ipam bin <<<"$impl"
  plugin "$bin" "$type" "$ipam" ADD warm-$name      # warm the caches and the dataDir
  plugin "$bin" "$type" "$ipam" DEL warm-$name
  plugin "$bin" "$type" "$ipam" ADD prof-$name strace -f -T -ttt -o "$OUT/$name-add.strace"
  plugin "$bin" "$type" "$ipam" DEL prof-$name strace -f -T -ttt -o "$OUT/$name-del.strace"
  plugin "$bin" "$type" "$ipam" ADD prof2-$name strace -f -c -o "$OUT/$name-add.strace-c"
  plugin "$bin" "$type" "$ipam" DEL prof2-$name
  if [ "$name" = podnet ]; then
    plugin "$bin" "$type" "$ipam" ADD prof3-$name valgrind -q --tool=callgrind --callgrind-out-file="$OUT/$name-add.callgrind"
    plugin "$bin" "$type" "$ipam" DEL prof3-$name
  fi
done

# 8 podnet ADDs at once (as the bench's 8 parallel callers): how long each
# waits for the IPAM lock, and how long it spends in fsync (most of it under the lock).
pids=()
for i in 1 2 3 4 5 6 7 8; do
  conf podnet podnet-ipam | ip netns exec "$P-node" env -i PATH=/usr/sbin:/usr/bin CNI_COMMAND=ADD \
    CNI_CONTAINERID="par$i" CNI_NETNS="/run/netns/$P-par$i" CNI_IFNAME=eth0 CNI_PATH="$BIN:$REF" \
    strace -f -T -ttt -e trace=flock,fsync,fdatasync,execve -o "$OUT/podnet-par$i.strace" "$BIN/podnet" >/dev/null &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for i in 1 2 3 4 5 6 7 8; do
  conf podnet podnet-ipam | ip netns exec "$P-node" env -i PATH=/usr/sbin:/usr/bin CNI_COMMAND=DEL \
    CNI_CONTAINERID="par$i" CNI_NETNS="/run/netns/$P-par$i" CNI_IFNAME=eth0 CNI_PATH="$BIN:$REF" "$BIN/podnet" >/dev/null
done

set +o pipefail  # head closes its pipes early
echo "== 8 parallel podnet ADDs: per ADD, wall / waiting for the IPAM lock (flock LOCK_EX) / in fsync"
for i in 1 2 3 4 5 6 7 8; do
  f=$OUT/podnet-par$i.strace
  awk '{t=$2} NR==1{a=t} /flock\(.*LOCK_EX/ {match($0, /<[0-9.]+>/); l+=substr($0, RSTART+1, RLENGTH-2)}
       /f(data)?sync\(/ {match($0, /<[0-9.]+>/); s+=substr($0, RSTART+1, RLENGTH-2)}
       END {printf "   ADD %d: wall %.1f ms, lock wait %.1f ms, fsync %.1f ms\n", '"$i"', (t-a)*1000, l*1000, s*1000}' "$f"
done
# The slowest syscalls of each ADD / DEL (time inside the call, from strace -T),
# and the gaps (user time or sleeps between calls) above 0.5 ms.
for f in "$OUT"/*.strace; do
  echo "== $(basename "$f"): wall $(awk 'NR==1{a=$2} {b=$2} END{printf "%.1f ms", (b-a)*1000}' "$f"), $(wc -l <"$f") syscalls, $(grep -cE 'sendmsg\(|sendto\(' "$f") netlink sends, fsync total $(grep -E 'f(data)?sync\(' "$f" | sed 's/.*<\(.*\)>/\1/' | awk '{s+=$1} END{printf "%.2f ms", s*1000}'); slowest calls:"
  sed -n 's/^\([0-9]*\) *\([0-9.]*\) \(.*\) <\([0-9.]*\)>$/\4 \1 \3/p' "$f" | sort -rn | head -8 | cut -c1-150
  awk '{t=$2} NR>1 && t-p>0.0005 {printf "   gap %.2f ms before: %s\n", (t-p)*1000, substr($0,1,110)} {p=t}' "$f" | sort -k2 -rn | head -5
done
echo "== callgrind: instructions of one podnet ADD"
callgrind_annotate --threshold=100 "$OUT/podnet-add.callgrind" 2>/dev/null >"$OUT/podnet-add.callgrind.txt" || true
awk '/PROGRAM TOTALS/ {gsub(",","",$1); total=$1}
     /^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ {n=$1; gsub(",","",n); if ($0 ~ /ld-linux|\/elf\/|dl-[a-z]+\.h/) ld+=n}
     END {printf "   total %d instructions; in the dynamic loader (symbol lookup, relocation): %d (%.0f%%)\n", total, ld, 100*ld/total}' \
  "$OUT/podnet-add.callgrind.txt"
grep -E "^ *[0-9,]+ +\(" "$OUT/podnet-add.callgrind.txt" | head -12 | cut -c1-150
