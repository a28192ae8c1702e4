#!/usr/bin/env bash
# Crash at every step: podnet is SIGKILLed at each fault point of
# include/podnet/fault/fault.hpp, during ADD, DEL and GC in turn; podnet-ipam,
# as the IPAM of the reference ptp, likewise between its writes and renames.
# After each crash, the runtime's recovery (DEL, a new ADD, a DEL) leaves the
# node exactly as wanted after every step: no link, address, route, lease,
# temporary file or nftables element left, the bystander Pod untouched, and
# after the new ADD exactly one veth and one lease per family for the Pod; a
# runtime that lost the Pod recovers with GC alone. Last, a reboot: GC at
# start releases the leases of Pods that are gone. The points come from the
# binary (PODNET_FAULT=list): a new point is crashed at without editing this
# test.
# Sizes (the defaults are the test command's; soak runs set both to 1):
# - CRASH_ALL_HITS=1 crashes at every hit of a point reached several times in
#   one verb (the n-th address, the n-th store write); by default at its first
#   and last hit.
# - CRASH_FULL_RECOVERY=1 also repeats the DEL after the crash and runs GC at
#   the end of each recovery, checking the node after each.
# Needs a build with -DPODNET_FAULT_INJECTION=ON (scripts/test.sh does that).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
command -v nft >/dev/null || pn_skip "needs nft(8)"
ALL_HITS=${CRASH_ALL_HITS:-0}
FULL=${CRASH_FULL_RECOVERY:-0}

node=$(pn_node node)
data="$PN_TMP/data"
conf='{"cniVersion":"1.1.0","name":"crash","type":"podnet","ipMasq":true,"ipam":{"type":"podnet-ipam",
  "dataDir":"'"$data"'","ranges":[[{"subnet":"10.70.0.0/24"}],[{"subnet":"fd70::/64"}]]}}'
gc_conf=$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"bystander","ifname":"eth0"}]}' <<<"$conf")
faults=0

# run BINARY CONF VERB ID NETNS [env...]: prints stdout; returns the exit status.
run() {
  local bin=$1 c=$2 verb=$3 id=$4 ns=$5
  shift 5
  pn_plugin "$node" "$bin" "$c" CNI_COMMAND="$verb" CNI_CONTAINERID="$id" CNI_NETNS="/run/netns/$ns" \
    CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN" "$@" 2>>"$PN_TMP/stderr"
}
podnet() { # VERB ID NETNS [env...]
  local verb=$1
  shift
  if [ "$verb" = GC ]; then
    run "$PODNET_BIN/podnet" "$gc_conf" GC "$@"
  else
    run "$PODNET_BIN/podnet" "$conf" "$verb" "$@"
  fi
}
# crash WHAT COMMAND...: COMMAND must die by SIGKILL (exit 137).
crash() {
  local what=$1 rc=0
  shift
  "$@" >/dev/null || rc=$?
  [ "$rc" = 137 ] || pn_fail "$what: exit $rc, want 137 (SIGKILL at the fault point)"
  faults=$((faults + 1))
}
# trace COMMAND...: the "point n" pairs COMMAND reaches, in order (the "known"
# points stay in $PN_TMP/stderr until the next command).
trace() {
  : >"$PN_TMP/stderr"
  "$@" PODNET_FAULT=list >/dev/null || pn_fail "traced $*: $(grep -v '^podnet-fault' "$PN_TMP/stderr")"
  awk '$1 == "podnet-fault:" && $2 == "reached" {print $3, $4}' "$PN_TMP/stderr"
}

# pick HITS: the "point n" pairs to crash at: all of HITS with CRASH_ALL_HITS=1,
# else the first and the last hit of each point, in the order reached.
pick() {
  if [ "$ALL_HITS" = 1 ]; then
    echo "$1"
    return
  fi
  awk '{ if (!($1 in first)) first[$1] = $2; last[$1] = $2; line[NR] = $0; p[NR] = $1; n[NR] = $2 }
    END { for (i = 1; i <= NR; i++) if (n[i] == first[p[i]] || n[i] == last[p[i]]) print line[i] }' <<<"$1"
}

# The node's nftables ruleset, one object or set element a line, no handles.
nft_state() {
  ip netns exec "$node" nft -j list ruleset | jq -c '.nftables[] | select(has("metainfo") | not)
    | walk(if type == "object" then del(.handle) else . end)
    | if .set then (.set | del(.elem)) as $s | ({set: $s}, (.set.elem // [] | .[] | {elem: ., set: $s.name}))
      else . end' | sort
}
state() {
  pn_state "$node" "$data"
  nft_state | sed 's/^/nft /'
}
# shape RESULT: the state with the Pod's addresses (from its Result) replaced by
# placeholders, so ADDs that got other addresses compare equal.
shape() {
  local a4 a6
  a4=$(pn_ip "$1" 4)
  a6=$(pn_ip "$1" 6)
  state | sed -E -e "s/(^|[^0-9a-f.:])${a4//./\\.}([^0-9a-f.:]|$)/\1POD4\2/g" \
    -e "s/(^|[^0-9a-f.:])${a6//./\\.}([^0-9a-f.:]|$)/\1POD6\2/g" | sort
}
leases_of() { grep -lx -e "$1"$'\r' -e "$1" "$data/crash"/[0-9a-f]*[.:]* 2>/dev/null | wc -l; }

by=$(pn_netns by)
v=$(pn_netns v)
podnet ADD bystander "$by" >/dev/null || pn_fail "bystander ADD"
base=$(state)
# A failed probe fails the test (trace's pn_fail ends only the $(...), so its
# status is checked here); only a build made without fault injection skips.
probe=$(trace podnet ADD probe "$v") || pn_fail "the probe ADD failed"
if [ -z "$probe" ]; then
  cache="$(dirname "$PODNET_BIN")/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -qx 'PODNET_FAULT_INJECTION:BOOL=ON' "$cache"; then
    pn_skip "$(dirname "$PODNET_BIN") is built without -DPODNET_FAULT_INJECTION=ON"
  fi
  pn_fail "podnet reached no fault point under PODNET_FAULT=list (is it built with -DPODNET_FAULT_INJECTION=ON?)"
fi
known=$(awk '$1 == "podnet-fault:" && $2 == "known" {print $3}' "$PN_TMP/stderr")
podnet DEL probe "$v" >/dev/null || pn_fail "DEL of the probe"
pn_expect_eq "$(state)" "$base" "state after the probe"

# The wanted state after a new ADD of the victim: a clean ADD's.
r=$(podnet ADD victim "$v") || pn_fail "clean ADD"
ref=$(shape "$r")
podnet DEL victim "$v" >/dev/null || pn_fail "clean DEL"
add_hits=$(trace podnet ADD victim "$v") || pn_fail "traced ADD"
del_hits=$(trace podnet DEL victim "$v") || pn_fail "traced DEL"
pn_expect_eq "$(state)" "$base" "state after a clean ADD and DEL"
podnet ADD victim "$v" >/dev/null || pn_fail "ADD before the traced GC"
gc_hits=$(trace podnet GC "" "$v") || pn_fail "traced GC"
pn_expect_eq "$(state)" "$base" "state after GC of the victim"
for p in $known; do
  grep -q "^$p " <<<"$add_hits"$'\n'"$del_hits"$'\n'"$gc_hits" ||
    pn_fail "fault point $p is reached by no verb of this test: give it a scenario"
done

# recover WHAT: the runtime's recovery, checking the node after each step.
recover() {
  local what=$1 r
  podnet DEL victim "$v" >/dev/null || pn_fail "$what: DEL after the crash: $(tail -1 "$PN_TMP/stderr")"
  if [ "$FULL" = 1 ]; then
    podnet DEL victim "$v" >/dev/null || pn_fail "$what: repeated DEL"
  fi
  pn_expect_eq "$(state)" "$base" "$what: node after DEL"
  r=$(podnet ADD victim "$v") || pn_fail "$what: new ADD: $(tail -1 "$PN_TMP/stderr")"
  pn_expect_eq "$(shape "$r")" "$ref" "$what: node after the new ADD"
  pn_expect_eq "$(leases_of victim)" 2 "$what: leases of the Pod after the new ADD"
  pn_expect_eq "$(ip -n "$v" -o link show type veth 2>/dev/null | wc -l)" 1 "$what: veths in the Pod"
  podnet DEL victim "$v" >/dev/null || pn_fail "$what: DEL"
  pn_expect_eq "$(state)" "$base" "$what: node after the last DEL"
  if [ "$FULL" = 1 ]; then
    podnet GC "" "$v" >/dev/null || pn_fail "$what: GC"
    pn_expect_eq "$(state)" "$base" "$what: node after GC"
  fi
  return 0
}

while read -r p n <&3; do
  crash "ADD $p#$n" podnet ADD victim "$v" PODNET_FAULT="$p" PODNET_FAULT_AFTER="$n"
  recover "ADD killed at $p#$n"
  # A runtime that lost the Pod: GC alone cleans up.
  crash "ADD $p#$n" podnet ADD victim "$v" PODNET_FAULT="$p" PODNET_FAULT_AFTER="$n"
  podnet GC "" "$v" >/dev/null || pn_fail "GC after ADD killed at $p#$n"
  pn_expect_eq "$(state)" "$base" "GC after ADD killed at $p#$n"
done 3< <(pick "$add_hits")
pn_pass "ADD killed at $(pick "$add_hits" | wc -l) of its $(wc -l <<<"$add_hits") steps: DEL, or GC alone, restores the node"

while read -r p n <&3; do
  podnet ADD victim "$v" >/dev/null || pn_fail "ADD before DEL $p#$n"
  crash "DEL $p#$n" podnet DEL victim "$v" PODNET_FAULT="$p" PODNET_FAULT_AFTER="$n"
  recover "DEL killed at $p#$n"
done 3< <(pick "$del_hits")
pn_pass "DEL killed at $(pick "$del_hits" | wc -l) of its $(wc -l <<<"$del_hits") steps: the repeated DEL finishes it"

while read -r p n <&3; do
  podnet ADD victim "$v" >/dev/null || pn_fail "ADD before GC $p#$n"
  crash "GC $p#$n" podnet GC "" "$v" PODNET_FAULT="$p" PODNET_FAULT_AFTER="$n"
  podnet GC "" "$v" >/dev/null || pn_fail "GC after GC killed at $p#$n"
  pn_expect_eq "$(state)" "$base" "GC after GC killed at $p#$n"
  recover "GC killed at $p#$n"
done 3< <(pick "$gc_hits")
pn_pass "GC killed at $(pick "$gc_hits" | wc -l) of its $(wc -l <<<"$gc_hits") steps: the next GC finishes it"

# podnet-ipam alone, exec'd by the reference ptp: killed between each write
# and its rename (ADD), after each unlink (DEL).
pconf='{"cniVersion":"1.0.0","name":"ptpcrash","type":"ptp","ipam":{"type":"podnet-ipam","dataDir":"'"$data"'",
  "ranges":[[{"subnet":"10.71.0.0/24"}],[{"subnet":"fd71::/64"}]]}}'
pgc=$(jq -c '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments":[{"containerID":"bystander","ifname":"eth0"}]}' <<<"$pconf")
ptp() { run "$REF_CNI/ptp" "$pconf" "$@"; }
ipam() { run "$PODNET_BIN/podnet-ipam" "$pconf" "$@"; }
ipam_gc() { run "$PODNET_BIN/podnet-ipam" "$pgc" GC "" "$v" >/dev/null || pn_fail "$1: podnet-ipam GC"; }
# Every file of the network's store but last_reserved_ip.*, with its content.
store() {
  (cd "$data/ptpcrash" && find . -type f ! -name lock ! -name 'last_reserved_ip*' ! -path './.podnet-index/*' |
    sort | while read -r f; do printf '%s=%s\n' "$f" "$(tr '\r\n' '|/' <"$f")"; done)
}
# crash_ptp WHAT VERB POINT N: ptp fails because its IPAM died by SIGKILL.
crash_ptp() {
  local out
  : >"$PN_TMP/stderr"
  if out=$(ptp "$2" victim "$v" PODNET_FAULT="$3" PODNET_FAULT_AFTER="$4"); then
    pn_fail "$1: ptp $2 succeeded though its IPAM was to be killed"
  fi
  # ptp passes its IPAM's stderr on, or quotes it in its error (libcni versions differ).
  grep -qE "podnet-fault: SIGKILL at $3 $4([^0-9]|$)" <<<"$out$(cat "$PN_TMP/stderr")" ||
    pn_fail "$1: IPAM not killed: $out"
  faults=$((faults + 1))
}
recover_ptp() {
  ptp DEL victim "$v" >/dev/null || pn_fail "$1: ptp DEL after the crash"
  if [ "$FULL" = 1 ]; then
    ptp DEL victim "$v" >/dev/null || pn_fail "$1: repeated ptp DEL"
  fi
  pn_expect_eq "$(store)" "$pbase" "$1: store after DEL (bystander's leases kept, temporary files swept)"
  ptp ADD victim "$v" >/dev/null || pn_fail "$1: new ptp ADD"
  pn_expect_eq "$(store | grep -c '=victim|/eth0$')" 2 "$1: leases of the Pod after the new ADD"
  pn_expect_eq "$(store | grep -vc '=victim|/eth0$')" "$(grep -c . <<<"$pbase")" "$1: other leases after the new ADD"
  ptp DEL victim "$v" >/dev/null || pn_fail "$1: ptp DEL"
  pn_expect_eq "$(store)" "$pbase" "$1: store after DEL"
  if [ "$FULL" = 1 ]; then
    ipam_gc "$1"
    pn_expect_eq "$(store)" "$pbase" "$1: store after GC"
  fi
  return 0
}

pby=$(pn_netns pby)
# No DAD on ptp's new addresses: ptp waits for it (2 s an ADD), and it is not under test.
for ns in "$node" "$v" "$pby"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0; done
ptp ADD bystander "$pby" >/dev/null || pn_fail "ptp bystander ADD: $(tail -1 "$PN_TMP/stderr")"
pbase=$(store)
ipam_add_hits=$(trace ipam ADD victim "$v") || pn_fail "traced podnet-ipam ADD"
ipam_del_hits=$(trace ipam DEL victim "$v") || pn_fail "traced podnet-ipam DEL"
pn_expect_eq "$(store)" "$pbase" "store after a traced ADD and DEL"
while read -r p n <&3; do
  crash_ptp "IPAM ADD $p#$n" ADD "$p" "$n"
  recover_ptp "IPAM ADD killed at $p#$n"
done 3< <(pick "$ipam_add_hits")
while read -r p n <&3; do
  ptp ADD victim "$v" >/dev/null || pn_fail "ptp ADD before DEL $p#$n"
  crash_ptp "IPAM DEL $p#$n" DEL "$p" "$n"
  recover_ptp "IPAM DEL killed at $p#$n"
done 3< <(pick "$ipam_del_hits")
ptp DEL bystander "$pby" >/dev/null
pn_pass "podnet-ipam under ptp killed at $(($(pick "$ipam_add_hits" | wc -l) + $(pick "$ipam_del_hits" | wc -l))) of its $(($(wc -l <<<"$ipam_add_hits") + $(wc -l <<<"$ipam_del_hits"))) store steps: no lease lost or doubled, temporary files swept"

# Reboot: the links, routes and nftables of the node are gone, the dataDir
# (on disk, not a tmpfs) is not. GC at start, with the attachments the runtime
# still has, releases every other lease and touches nothing else.
podnet ADD old "$v" >/dev/null || pn_fail "ADD before the reboot"
first=$node
node=$(pn_node rebooted)
fresh=$(pn_state "$node"; nft_state)
podnet GC "" "$v" >/dev/null || pn_fail "GC after the reboot: $(tail -1 "$PN_TMP/stderr")"
pn_expect_eq "$(leases_of old)" 0 "leases of a Pod gone with the reboot"
pn_expect_eq "$(leases_of bystander)" 2 "leases of the Pod the runtime still has"
pn_expect_eq "$(pn_state "$node"; nft_state)" "$fresh" "the rebooted node after GC"
pn_pass "after a reboot, GC releases the leases of Pods that are gone"
node=$first

podnet DEL bystander "$by" >/dev/null
pn_pass "$faults faults injected ($(wc -w <<<"$known") points), nothing leaked or given twice"
