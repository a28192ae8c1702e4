#!/usr/bin/env bash
# podnetd's masquerade (nftables table inet podnetd): a Pod reaches a host
# outside the cluster that has no route to pod CIDRs (it only answers the
# node's address), while Pod-to-Pod traffic across nodes keeps its Pod source
# address; --masquerade=false removes the table, idempotently.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
# The build always links the nft module (lib/nft is required): a podnetd that
# does not report it is broken, not a build option.
version=$("$PODNET_BIN/podnetd" --version) || pn_fail "podnetd --version failed"
grep -q 'masquerade: nftables' <<<"$version" || pn_fail "podnetd --version reports no nftables masquerade: $version"

u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
n2=$(pn_cluster_node "$u" 2)
# A host outside the cluster on the same underlay, with no route to any pod CIDR.
ext=$(pn_netns ext)
ip -n "$ext" link add eth0 type veth peer name uext netns "$u"
ip -n "$u" link set uext master br0
ip -n "$u" link set uext up
ip -n "$ext" addr add 192.168.77.200/24 dev eth0
ip -n "$ext" addr add fd77::200/64 dev eth0 nodad
ip -n "$ext" link set eth0 up

pn_cluster_write "$(pn_cluster_json 1 2)"
pn_podnetd "$n1" 1
pid1=$PN_PID
pn_podnetd "$n2" 2
pn_wait_ready "$n1"
pn_wait_ready "$n2"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2)"
a=$(pn_netns podA)
b=$(pn_netns podB)
ra=$(pn_cni_node "$n1" 1 add "$a")
rb=$(pn_cni_node "$n2" 2 add "$b")
# Fresh veths may take a moment to pass packets: one pod-to-pod round first.
pn_wait_ping "$a" "$(pn_ip "$rb" 4)" "$(pn_ip "$rb" 6)"
pn_wait_ping "$b" "$(pn_ip "$ra" 4)" "$(pn_ip "$ra" 6)"

masqueraded() { # NODE: packets that hit the masquerade rules
  ip netns exec "$1" nft -j list chain inet podnetd postrouting |
    jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}

ip netns exec "$a" ping -c 1 -W 2 192.168.77.200 >/dev/null || pn_fail "pod -> outside host (IPv4)"
ip netns exec "$a" ping -6 -c 1 -W 2 fd77::200 >/dev/null || pn_fail "pod -> outside host (IPv6)"
[ "$(masqueraded "$n1")" -ge 2 ] || pn_fail "masquerade counters did not move"
pn_pass "a Pod reaches a host outside the cluster through the node's address (IPv4, IPv6)"

before=$(masqueraded "$n1")
ip netns exec "$a" ping -c 1 -W 2 "$(pn_ip "$rb" 4)" >/dev/null || pn_fail "pod -> pod across nodes"
ip netns exec "$a" ping -6 -c 1 -W 2 "$(pn_ip "$rb" 6)" >/dev/null || pn_fail "pod -> pod across nodes (IPv6)"
ip netns exec "$b" ping -c 1 -W 2 "$(pn_ip "$ra" 4)" >/dev/null || pn_fail "pod -> pod back"
pn_expect_eq "$(masqueraded "$n1")" "$before" "masqueraded packets during Pod-to-Pod pings"
pn_pass "Pod-to-Pod traffic across nodes is not masqueraded"

# A restart (even SIGKILL) leaves a table that is already right alone: same handle.
handle() { ip netns exec "$n1" nft -j list tables | jq '.nftables[] | select(.table.name == "podnetd") | .table.handle'; }
h=$(handle)
kill -KILL "$pid1"
wait "$pid1" 2>/dev/null || true
pn_podnetd "$n1" 1 --resync-interval 0.3
pid1=$PN_PID
pn_wait_ready "$n1"
pn_wait_metric "$n1" podnetd_reconcile_total 3 # resyncs, each verifying the table
pn_expect_eq "$(handle)" "$h" "the masquerade table's handle across a restart"
pn_pass "restart: the masquerade table is left in place"

# --masquerade=false removes the table (twice: idempotent); the outside host is then unreachable.
for _ in 1 2; do
  kill -TERM "$pid1"
  wait "$pid1"
  pn_podnetd "$n1" 1 --masquerade=false
  pid1=$PN_PID
  pn_wait_ready "$n1"
  ip netns exec "$n1" nft list table inet podnetd >/dev/null 2>&1 && pn_fail "table inet podnetd still there"
done
ip netns exec "$a" ping -c 1 -W 1 192.168.77.200 >/dev/null 2>&1 && pn_fail "outside reachable without masquerade"
pn_pass "--masquerade=false removes the table; the outside host is unreachable without it"

kill -TERM "$pid1"
wait "$pid1"
pn_podnetd "$n1" 1
pn_wait_ready "$n1"
ip netns exec "$a" ping -c 1 -W 2 192.168.77.200 >/dev/null || pn_fail "pod -> outside host after re-enabling"
pn_pass "re-enabled: the table is back"
