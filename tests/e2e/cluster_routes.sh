#!/usr/bin/env bash
# Three nodes on one underlay, podnetd in each: every node gets a route to every
# other node's pod CIDRs (IPv4 and IPv6), Pods added through libcni with the
# conflist podnetd wrote reach each other across nodes; a node removed from the
# cluster file loses its routes everywhere, a node added gains them everywhere;
# a route deleted by hand comes back through its route event (node1 resyncs
# only every 600 s), and nothing else changes meanwhile. Prints the time from
# a cluster-file change to the route in the kernel.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

u=$(pn_underlay)
declare -A node
for i in 1 2 3 4; do node[$i]=$(pn_cluster_node "$u" "$i"); done
pn_cluster_write "$(pn_cluster_json 1 2 3)"
pn_podnetd "${node[1]}" 1 --resync-interval 600
for i in 2 3; do pn_podnetd "${node[$i]}" "$i" --resync-interval 10; done
for i in 1 2 3; do pn_wait_ready "${node[$i]}"; done
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
pn_pass "each node routes the other two nodes' pod CIDRs (IPv4 + IPv6)"

# The conflist podnetd wrote carries the node's own pod CIDRs.
for i in 1 2 3; do
  conf="$PN_TMP/node$i/net.d/10-podnet.conflist"
  pn_expect_eq "$(jq -c '[.plugins[0].ipam.ranges[][0].subnet]' "$conf")" \
    "[\"10.244.$i.0/24\",\"fd00:10:244:$i::/64\"]" "node$i conflist ranges"
  pn_expect_eq "$(jq -r .cniVersion "$conf")" 1.0.0 "node$i conflist version"
done
pn_pass "each node's conflist has its pod CIDRs"

# Two Pods on each node, added through libcni with that conflist.
declare -A pod4 pod6
for i in 1 2 3; do
  for p in a b; do
    pod=$(pn_netns "pod$i$p")
    res=$(pn_cni_node "${node[$i]}" "$i" add "$pod")
    pod4[$pod]=$(pn_ip "$res" 4)
    pod6[$pod]=$(pn_ip "$res" 6)
    [[ ${pod4[$pod]} == 10.244.$i.* ]] || pn_fail "pod $pod on node$i got ${pod4[$pod]}"
    [[ ${pod6[$pod]} == fd00:10:244:$i:* ]] || pn_fail "pod $pod on node$i got ${pod6[$pod]}"
  done
done
# A fresh veth may take a moment to pass packets: each Pod first reaches one
# Pod on another node; then every pair must answer at once.
for src in "${!pod4[@]}"; do
  for dst in "${!pod4[@]}"; do
    [[ ${pod4[$dst]%.*} != "${pod4[$src]%.*}" ]] && { pn_wait_ping "$src" "${pod4[$dst]}" "${pod6[$dst]}"; break; }
  done
done
for src in "${!pod4[@]}"; do
  for dst in "${!pod4[@]}"; do
    [ "$src" = "$dst" ] && continue
    ip netns exec "$src" ping -c 1 -W 2 "${pod4[$dst]}" >/dev/null || pn_fail "ping $src -> $dst (${pod4[$dst]})"
    ip netns exec "$src" ping -6 -c 1 -W 2 "${pod6[$dst]}" >/dev/null || pn_fail "ping6 $src -> $dst (${pod6[$dst]})"
  done
done
pn_pass "all-pairs Pod-to-Pod ping across 3 nodes, IPv4 and IPv6 (${#pod4[@]} pods)"

# podnetd status shows the routes.
table=$(ip netns exec "${node[1]}" "$PODNET_BIN/podnetd" status)
echo "$table"
grep -q '^node2 .*10.244.2.0/24 .*programmed *via 192.168.77.12$' <<<"$table" || pn_fail "status table lacks node2"
grep -q '^node1 (self) .*local' <<<"$table" || pn_fail "status table lacks self"

# A node removed from the cluster file loses its routes on every node.
conf1=$(stat -c '%i %Y' "$PN_TMP/node1/net.d/10-podnet.conflist")
pn_cluster_write "$(pn_cluster_json 1 2)"
for i in 1 2; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2)"; done
pn_pass "node3 removed: its routes are gone from node1 and node2"
pn_expect_eq "$(stat -c '%i %Y' "$PN_TMP/node1/net.d/10-podnet.conflist")" "$conf1" "node1's conflist (not rewritten)"

# A node added appears everywhere; time the change on node1.
pn_podnetd "${node[4]}" 4
start=$(pn_now_ms)
pn_cluster_write "$(pn_cluster_json 1 2 3 4)"
until ip -n "${node[1]}" route show proto $PN_PROTO | grep -q '^10.244.4.0/24 '; do
  [ $(($(pn_now_ms) - start)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "node4's route never reached node1"
  sleep 0.002
done
latency=$(($(pn_now_ms) - start))
pn_wait_ready "${node[4]}"
for i in 1 2 3 4; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3 4)"; done
pn_pass "node3 back and node4 added: routes everywhere (cluster file -> route in node1's kernel: ${latency} ms)"

# The time from a cluster-file change to the route in the kernel, over 10 changes
# (node 9 on the underlay, with no namespace behind it, in and out).
samples=()
for k in 1 2 3 4 5 6 7 8 9 10; do
  if ((k % 2)); then json=$(pn_cluster_json 1 2 3 4 9); else json=$(pn_cluster_json 1 2 3 4); fi
  start=$(date +%s%N)
  pn_cluster_write "$json"
  while :; do
    present=0
    ip -n "${node[1]}" route show proto $PN_PROTO 10.244.9.0/24 | grep -q . && present=1
    [ $present = $((k % 2)) ] && break
    [ $((($(date +%s%N) - start) / 1000000)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "change $k never reached node1"
  done
  samples+=($((($(date +%s%N) - start) / 1000)))
done
sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
echo "MEASURE cluster_change_to_route_us min=$(head -1 <<<"$sorted") median=$(sed -n 5p <<<"$sorted") max=$(tail -1 <<<"$sorted") (10 changes, add and remove)"

# Pods on node4 reach pods on node1.
p4=$(pn_netns pod4a)
res=$(pn_cni_node "${node[4]}" 4 add "$p4")
pn_wait_ping "$p4" "${pod4[$(head -1 < <(printf '%s\n' "${!pod4[@]}"))]}"
for dst in "${!pod4[@]}"; do
  ip netns exec "$p4" ping -c 1 -W 2 "${pod4[$dst]}" >/dev/null || pn_fail "ping pod4a -> $dst"
done
pn_pass "a Pod on the added node reaches Pods on every node"

# A route deleted by hand comes back, by the reconcile its deletion event
# triggers (node1's next resync is minutes away); a route of another protocol
# is left alone by that reconcile. The kernel shows exactly the deletion and
# the re-add of each route, nothing else.
ip -n "${node[1]}" route add 10.99.0.0/24 via 192.168.77.99 proto static
pn_monitor_start "${node[1]}"
log1="$PN_TMP/node1/podnetd.log"
for r in "10.244.2.0/24" "fd00:10:244:2::/64"; do
  events_before=$(jq -c 'select(.msg == "reconciled" and .why == "event" and .replaced > 0)' "$log1" | wc -l)
  ip -n "${node[1]}" route del "$r" proto $PN_PROTO
  start=$(pn_now_ms)
  until pn_routes "${node[1]}" | grep -q "^$r "; do
    [ $(($(pn_now_ms) - start)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "$r deleted by hand did not return"
    sleep 0.002
  done
  [ "$(jq -c 'select(.msg == "reconciled" and .why == "event" and .replaced > 0)' "$log1" | wc -l)" -gt "$events_before" ] ||
    pn_fail "$r came back, but not by a reconcile on its route event"
  pn_pass "$r deleted by hand returned by its route event after $(($(pn_now_ms) - start)) ms"
done
events=$(pn_monitor_stop "${node[1]}" | sed 's/ *$//')
pn_expect_eq "$events" "Deleted 10.244.2.0/24 via 192.168.77.12 dev eth0 proto $PN_PROTO
10.244.2.0/24 via 192.168.77.12 dev eth0 proto $PN_PROTO
Deleted fd00:10:244:2::/64 via fd77::12 dev eth0 proto $PN_PROTO metric 1024 pref medium
fd00:10:244:2::/64 via fd77::12 dev eth0 proto $PN_PROTO metric 1024 pref medium" "route events in node1 while 2 routes were deleted by hand"
ip -n "${node[1]}" route show 10.99.0.0/24 | grep -q 'proto static' || pn_fail "a static route was touched"
pn_http "${node[1]}" /metrics | grep -q '^podnetd_routes_programmed 6$' || pn_fail "metrics: routes programmed"
pn_http "${node[1]}" /metrics | grep -q '^podnetd_nodes_known 4$' || pn_fail "metrics: nodes known"
pn_pass "metrics and foreign routes"

# A node with no address on a connected subnet is reported, not guessed.
pn_cluster_write "$(pn_cluster_json 1 2 3 4 | jq -c '.nodes += [{"name": "far", "addresses": ["10.9.9.9"],
  "podCIDRs": ["10.244.99.0/24"]}]')"
pn_wait_metric "${node[1]}" podnetd_nodes_unreachable 1
pn_expect_eq "$(pn_metric "${node[1]}" podnetd_nodes_unreachable)" 1 "metrics: unreachable nodes"
ip netns exec "${node[1]}" "$PODNET_BIN/podnetd" status | grep -q '^far .*10.244.99.0/24 *skipped *unreachable' ||
  pn_fail "status: unreachable node"
grep -q '"reason":"unreachable: no IPv4 address on a directly connected subnet"' "$PN_TMP/node1/podnetd.log" ||
  pn_fail "log: unreachable node"
pn_expect_eq "$(pn_routes "${node[1]}")" "$(pn_expected_routes 1 1 2 3 4)" "routes with an unreachable node"
pn_pass "an unreachable node is reported (log, metric, status) and gets no route"
