#!/usr/bin/env bash
# Three nodes with etcd as podnetd's node source (flannel's model): etcd 3.4
# runs in the underlay namespace; each podnetd leases its pod CIDRs there.
#   - every node routes to every other node's leased subnets
#   - the time from a store change to the route in every node's kernel, for
#     1 and for PN_ETCD_MANY simultaneous node changes (one transaction), added
#     and removed
#   - node removal (daemon stopped, lease expires: its routes go everywhere)
#     and addition (the daemon back: routes come back)
#   - a daemon restart (SIGKILL) reclaims its subnet: no route changes anywhere
#   - a node cut off from etcd for longer than its TTL keeps its routes, catches
#     up on what changed meanwhile, and re-leases the same subnet
#   - etcd down (PN_ETCD_OUTAGE s, and at least until every node noticed and
#     resynced twice): no route deleted, added or replaced on any node
# Sizes (soak runs raise them): PN_ETCD_OUTAGE seconds of outage (default 0:
# as long as the conditions take), PN_ETCD_MANY changes in one transaction
# (default 50), PN_ETCD_SINGLES single-change rounds (default 1).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
source "$PODNET_SRC/tests/lib/etcd.sh"

OUTAGE=${PN_ETCD_OUTAGE:-0}
MANY=${PN_ETCD_MANY:-50}
SINGLES=${PN_ETCD_SINGLES:-1}
u=$(pn_underlay)
declare -A node pid
for i in 1 2 3; do node[$i]=$(pn_cluster_node "$u" "$i"); done
pn_etcd_start "$u"
for i in 1 2 3; do
  pn_podnetd_etcd "${node[$i]}" "$i"
  pid[$i]=$PN_PID
done
# wait_leases N [SECONDS]: waits until etcd holds N leases.
wait_leases() {
  local deadline=$((SECONDS + ${2:-$PN_DEADLINE}))
  until [ "$(pn_etcd_leases | wc -l)" = "$1" ]; do
    [ $SECONDS -lt $deadline ] || pn_fail "expected $1 leases, got: $(pn_etcd_leases)"
    sleep 0.1
  done
}
# wait_log NODE_I MSG COUNT: waits until node I's log holds more than COUNT lines with MSG.
wait_log() {
  local deadline=$((SECONDS + PN_DEADLINE))
  until [ "$(grep -c "\"msg\":\"$2\"" "$PN_TMP/node$1/podnetd.log")" -gt "$3" ]; do
    [ $SECONDS -lt $deadline ] || pn_fail "node$1: no new '$2' in its log"
    sleep 0.1
  done
}
count_log() { grep -c "\"msg\":\"$2\"" "$PN_TMP/node$1/podnetd.log" || true; }

for i in 1 2 3; do pn_wait_ready "${node[$i]}"; done
wait_leases 6
for i in 1 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
for i in 1 2 3; do
  grep -q "\"$(pn_etcd_subnets "node$i" | head -1)\"" "$PN_TMP/node$i/net.d/10-podnet.conflist" ||
    pn_fail "node$i's conflist does not hold its leased subnet"
done
pn_pass "3 nodes leased distinct subnets ($(pn_etcd_leases | awk '{print $1 "=" $2}' | tr '\n' ' ')); routes everywhere"

# all_have PATTERN COUNT: waits until every node holds COUNT podnet routes
# whose line starts with the grep -E PATTERN.
all_have() {
  local pattern=$1 want=$2 i got deadline=$((SECONDS + PN_DEADLINE))
  declare -A seen=()
  while [ ${#seen[@]} -lt 3 ]; do
    for i in 1 2 3; do
      [ -n "${seen[$i]:-}" ] && continue
      got=$(ip -n "${node[$i]}" route show proto $PN_PROTO | grep -cE "^$pattern" || true)
      [ "$got" = "$want" ] && seen[$i]=1
    done
    [ $SECONDS -lt $deadline ] || pn_fail "routes matching $pattern: wanted $want on every node, seen on ${!seen[*]}"
    sleep 0.01
  done
}

# measure LABEL PATTERN COUNT CMD...: runs CMD (a store change), waits until
# every node holds COUNT podnet routes matching PATTERN, and prints for each
# node the time from just before CMD to the last matching route event in its
# kernel (as `ip -ts monitor route` in the node stamps it).
measure() {
  local label=$1 pattern=$2 want=$3 i t0 last ev out=""
  shift 3
  for i in 1 2 3; do pn_monitor_start "${node[$i]}" -ts; done
  t0=$(date +%s%N)
  "$@" >/dev/null
  all_have "$pattern" "$want"
  for i in 1 2 3; do
    ev=$(pn_monitor_stop "${node[$i]}")
    last=$(grep -E "^\[[^]]*\] (Deleted )?$pattern" <<<"$ev" | tail -1 | sed 's/^\[\([^]]*\)\].*/\1/') || true
    [ -n "$last" ] || pn_fail "no route event matching $pattern on node$i"
    out+="node$i $((($(date -d "$last" +%s%N) - t0) / 1000000)) ms, "
  done
  echo "etcd latency, $label: ${out%, }"
}

# One change: an outside lease put, then deleted, through the gateway (curl:
# no etcdctl start-up inside the measurement).
b64() { printf '%s' "$1" | base64 -w0; }
for ((k = 1; k <= SINGLES; k++)); do
  key=$(b64 "${PN_ETCD_PREFIX}10.244.25$k.0-24")
  value=$(b64 "{\"name\":\"ext$k\",\"addresses\":[\"192.168.77.9$k\"],\"podCIDRs\":[\"10.244.25$k.0/24\"]}")
  measure "1 change (put)   " "10\.244\.25$k\.0/24 via 192\.168\.77\.9$k " 1 \
    pn_etcd_post /v3/kv/put "{\"key\":\"$key\",\"value\":\"$value\"}"
  measure "1 change (delete)" "10\.244\.25$k\.0/24 " 0 pn_etcd_post /v3/kv/deleterange "{\"key\":\"$key\"}"
done

# $MANY changes in one transaction (one revision), then one range delete.
body=$(jq -nc --arg p "$PN_ETCD_PREFIX" --argjson n "$MANY" '{success: [range(0; $n) as $k |
  "10.250.\($k / 4 | floor).\(($k % 4) * 64)" as $net |
  {request_put: {key: ($p + $net + "-26" | @base64),
                 value: ({name: "scale\($k)", addresses: ["192.168.77.\(100 + $k % 50)"],
                          podCIDRs: ["\($net)/26"]} | tojson | @base64)}}]}')
measure "$MANY changes (put)   " '10\.250\.' "$MANY" pn_etcd_post /v3/kv/txn "$body"
measure "$MANY changes (delete)" '10\.250\.' 0 pn_etcd_post /v3/kv/deleterange \
  "{\"key\":\"$(b64 "${PN_ETCD_PREFIX}10.250.")\",\"range_end\":\"$(b64 "${PN_ETCD_PREFIX}10.250/")\"}"
[ -z "$(pn_etcdctl get --prefix "${PN_ETCD_PREFIX}10.250." --keys-only)" ] || pn_fail "scale leases left in etcd"
for i in 1 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
pn_pass "store changes reach every node's kernel (latencies above)"

# Node removal: node3's daemon stops; its lease expires after the TTL and its
# routes go from nodes 1 and 2. Then node3 comes back: routes come back.
kill -TERM "${pid[3]}"
wait "${pid[3]}" || pn_fail "podnetd on node3 did not exit cleanly"
t0=$(pn_now_ms)
wait_leases 4 $((PN_ETCD_TTL + PN_DEADLINE))
for i in 1 2; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
[ "$(pn_etcd_subnets node3)" = "" ] || pn_fail "node3's leases still in etcd"
pn_pass "node3 removed: its lease expired and its routes left nodes 1 and 2 after $(($(pn_now_ms) - t0)) ms (TTL ${PN_ETCD_TTL} s)"
pn_podnetd_etcd "${node[3]}" 3
pid[3]=$PN_PID
pn_wait_ready "${node[3]}"
wait_leases 6
for i in 1 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
pn_pass "node3 added back: routes everywhere"

# snapshot: every node's podnet routes (JSON, both families).
snapshot() {
  local i
  for i in 1 2 3; do
    { ip -n "${node[$i]}" -4 -j route show proto $PN_PROTO; ip -n "${node[$i]}" -6 -j route show proto $PN_PROTO; } | jq -c .
  done
}
# monitor_start / monitor_check: a route-event window in every node; no route
# may be added, replaced or deleted meanwhile.
monitor_start() {
  local i
  for i in 1 2 3; do pn_monitor_start "${node[$i]}"; done
}
monitor_check() {
  local i ev
  for i in 1 2 3; do
    ev=$(pn_monitor_stop "${node[$i]}")
    pn_expect_eq "$ev" "" "$1: route events on node$i"
  done
}
# resynced N: waits until every node has made N more reconcile passes (one per
# 2 s resync): each has seen what etcd holds by then.
resynced() {
  local i
  pn_wait_reconciles "$1" "${node[@]}"
}

# Daemon restart: SIGKILL node1's podnetd and start it again; it reclaims the
# same subnets (its keys re-put under its new lease), nothing changes anywhere.
leases_before=$(pn_etcd_leases)
routes_before=$(snapshot)
monitor_start
synced=$(count_log 1 "etcd: in sync")
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
pn_podnetd_etcd "${node[1]}" 1
pid[1]=$PN_PID
pn_wait_ready "${node[1]}"
wait_log 1 "etcd: in sync" "$synced"
resynced 2
monitor_check "restart"
pn_expect_eq "$(pn_etcd_leases)" "$leases_before" "leases across node1's restart"
pn_expect_eq "$(snapshot)" "$routes_before" "routes across node1's restart"
grep -q '"how":"reclaimed"' "$PN_TMP/node1/podnetd.log" || pn_fail "node1 did not log its reclaimed subnet"
pn_pass "SIGKILL + restart of node1: same subnets reclaimed, no route event on any node"

# Node1 cut off from etcd (a blackhole route in node1 only) for longer than
# its TTL: it keeps its routes; its lease expires, so the others drop node1
# meanwhile; a node that joins meanwhile is caught up once node1 is back, and
# node1 re-leases the same subnets.
mine=$(pn_etcd_subnets node1)
routes1=$(pn_routes "${node[1]}")
late="10.244.240.0/24 via 192.168.77.99 dev eth0"
ip -n "${node[1]}" route add blackhole "$PN_ETCD_IP/32"
pn_monitor_start "${node[1]}"
wait_leases 4 $((PN_ETCD_TTL + PN_DEADLINE))
for i in 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
pn_etcdctl put "${PN_ETCD_PREFIX}10.244.240.0-24" '{"name":"late","addresses":["192.168.77.99"],"podCIDRs":["10.244.240.0/24"]}' >/dev/null
for i in 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i" "" "$late"; done
# node1 keeps reconciling while cut off: two passes after the others moved on.
pn_wait_reconciles 2 "${node[1]}"
pn_expect_eq "$(pn_monitor_stop "${node[1]}")" "" "route events on node1 while cut off"
pn_expect_eq "$(pn_routes "${node[1]}")" "$routes1" "node1's routes while cut off"
ip -n "${node[1]}" route del blackhole "$PN_ETCD_IP/32"
wait_leases 7
for i in 1 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i" "" "$late"; done
pn_expect_eq "$(pn_etcd_subnets node1)" "$mine" "node1's subnets after its lease expired"
pn_etcdctl del "${PN_ETCD_PREFIX}10.244.240.0-24" >/dev/null
for i in 1 2 3; do pn_wait_etcd_routes "${node[$i]}" "node$i"; done
pn_pass "node1 cut off past its TTL: routes kept, caught up, same subnets re-leased"

# etcd down: every route stays, nothing flaps, while every node notices the
# outage and resyncs twice (and for PN_ETCD_OUTAGE s); back, every daemon
# catches up on its own (no restart) and the leases are unchanged.
leases_before=$(pn_etcd_leases)
routes_before=$(snapshot)
declare -A failed back
for i in 1 2 3; do failed[$i]=$(count_log "$i" "etcd: request failed; retrying"); done
monitor_start
pn_etcd_stop
t0=$SECONDS
for i in 1 2 3; do wait_log "$i" "etcd: request failed; retrying" "${failed[$i]}"; done
resynced 2
while [ $((SECONDS - t0)) -lt "$OUTAGE" ]; do
  sleep 1
  pn_expect_eq "$(snapshot)" "$routes_before" "routes $((SECONDS - t0)) s into the etcd outage"
done
pn_expect_eq "$(snapshot)" "$routes_before" "routes during the etcd outage"
outage=$((SECONDS - t0))
for i in 1 2 3; do back[$i]=$(count_log "$i" "etcd: back in sync"); done
t0=$(pn_now_ms)
pn_etcd_start "$u"
for i in 1 2 3; do wait_log "$i" "etcd: back in sync" "${back[$i]}"; done
resynced_ms=$(($(pn_now_ms) - t0))
resynced 2
monitor_check "the etcd outage"
pn_expect_eq "$(snapshot)" "$routes_before" "routes after the etcd outage"
pn_expect_eq "$(pn_etcd_leases)" "$leases_before" "leases after the etcd outage"
for i in 1 2 3; do kill -0 "${pid[$i]}" || pn_fail "podnetd on node$i died"; done
pn_pass "etcd down ${outage} s: no route event on any node; all back in sync ${resynced_ms} ms after etcd (restart included)"
