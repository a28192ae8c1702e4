#!/usr/bin/env bash
# podnetd --source etcd against a real etcd 3.4 (in the underlay namespace):
#   - 8 daemons started at once lease 8 distinct subnets per family (the
#     create-if-absent transaction arbitrates), write them to their conflists,
#     and route to each other
#   - a SIGKILLed daemon restarted reclaims the same subnets under a new lease
#   - bad etcd settings are refused at start with the flag named
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
source "$PODNET_SRC/tests/lib/etcd.sh"

N=8
u=$(pn_underlay)
declare -A node pid
for ((i = 1; i <= N; i++)); do node[$i]=$(pn_cluster_node "$u" "$i"); done
pn_etcd_start "$u"

# Bad settings: exit 1 at start, the flag named in the log.
# bad FLAG ARGS...: podnetd --source etcd ARGS... must exit 1 naming FLAG.
bad() {
  local flag=$1 rc=0
  shift
  ip netns exec "${node[1]}" "$PODNET_BIN/podnetd" --node-name node1 --source etcd --cni-conf-dir "" --listen "" \
    "$@" >"$PN_TMP/bad.log" 2>&1 || rc=$?
  pn_expect_eq "$rc" 1 "podnetd's exit status with $*"
  grep -q -- "$flag" "$PN_TMP/bad.log" || pn_fail "no mention of $flag in: $(cat "$PN_TMP/bad.log")"
}
ok=(--etcd-endpoints "$PN_ETCD_URL" --cluster-cidr 10.244.0.0/16 --node-address 192.168.77.11)
bad --node-address --etcd-endpoints "$PN_ETCD_URL" --cluster-cidr 10.244.0.0/16
bad --node-address "${ok[@]}" --node-address 192.168.77
bad --cluster-cidr --etcd-endpoints "$PN_ETCD_URL" --node-address 192.168.77.11
bad --cluster-cidr "${ok[@]}" --cluster-cidr 10.245.0.0/16
bad --cluster-cidr --etcd-endpoints "$PN_ETCD_URL" --node-address 192.168.77.11 --cluster-cidr 10.244.0.1/16
bad --subnet-len-v4 "${ok[@]}" --subnet-len-v4 12
bad --etcd-endpoints --cluster-cidr 10.244.0.0/16 --node-address 192.168.77.11
bad --etcd-endpoints "${ok[@]}" --etcd-endpoints ftp://192.168.77.2
pn_pass "bad etcd settings refused at start"

# All at once, with exactly 8 subnets per family: no two nodes get the same
# one, and every node gets one (the losers of each race re-read and retry).
PN_ETCD_CIDRS=10.244.0.0/21,fd00:10:244::/61
for ((i = 1; i <= N; i++)); do
  pn_podnetd_etcd "${node[$i]}" "$i"
  pid[$i]=$PN_PID
done
for ((i = 1; i <= N; i++)); do pn_wait_ready "${node[$i]}" 20; done
deadline=$((SECONDS + 20))
until [ "$(pn_etcd_leases | wc -l)" = $((2 * N)) ]; do
  [ $SECONDS -lt $deadline ] || pn_fail "expected $((2 * N)) leases, got: $(pn_etcd_leases)"
  sleep 0.1
done
leases=$(pn_etcd_leases)
echo "$leases"
pn_expect_eq "$(awk '{print $2}' <<<"$leases" | sort -u | wc -l)" $((2 * N)) "distinct subnets"
for ((i = 1; i <= N; i++)); do
  pn_expect_eq "$(awk -v n="node$i" '$1 == n' <<<"$leases" | wc -l)" 2 "leases of node$i"
  pn_expect_eq "$(awk -v n="node$i" '$1 == n && $2 ~ /^10\.244\.[0-9]+\.0\/24$/' <<<"$leases" | wc -l)" 1 "IPv4 lease of node$i"
  pn_expect_eq "$(awk -v n="node$i" '$1 == n && $2 ~ /^fd00:10:244:([0-9a-f]+:)?:\/64$/' <<<"$leases" | wc -l)" 1 "IPv6 lease of node$i"
  for s in $(pn_etcd_subnets "node$i"); do
    jq -e --arg s "$s" '[.. | .subnet? // empty] | index($s) != null' "$PN_TMP/node$i/net.d/10-podnet.conflist" >/dev/null ||
      pn_fail "node$i's conflist lacks its subnet $s"
  done
done
for ((i = 1; i <= N; i++)); do pn_wait_etcd_routes "${node[$i]}" "node$i" 20; done
races=$(cat "$PN_TMP"/node*/podnetd.log | grep -c '"msg":"etcd: lost a race for a subnet; re-reading"' || true)
pn_pass "$N daemons started at once for $N subnets per family: all distinct ($races races lost and retried), conflists written, $((2 * (N - 1))) routes on each node"

# Restart: the same subnets, now bound to the new lease.
# (-w fields: -w json's int64 lease IDs lose digits in jq)
key=$(pn_etcdctl get --prefix "$PN_ETCD_PREFIX" -w json | jq -r '.kvs[] | select((.value | @base64d | fromjson | .name) == "node1") | .key' | head -1 | base64 -d)
lease_of() { pn_etcdctl get "$1" -w fields | awk '$1 == "\"Lease\"" {print $3}'; }
lease_before=$(lease_of "$key")
mine=$(pn_etcd_subnets node1)
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
synced=$(grep -c '"msg":"etcd: in sync"' "$PN_TMP/node1/podnetd.log")
pn_podnetd_etcd "${node[1]}" 1
pid[1]=$PN_PID
deadline=$((SECONDS + 10))
until [ "$(grep -c '"msg":"etcd: in sync"' "$PN_TMP/node1/podnetd.log")" -gt "$synced" ]; do
  [ $SECONDS -lt $deadline ] || pn_fail "restarted podnetd not in sync"
  sleep 0.1
done
lease_after=$(lease_of "$key")
[ -n "$lease_before" ] && [ "$lease_after" -gt 0 ] || pn_fail "no lease read for $key: '$lease_before' '$lease_after'"
pn_expect_eq "$(pn_etcd_subnets node1)" "$mine" "node1's subnets after a restart"
[ "$lease_after" != "$lease_before" ] || pn_fail "node1's key still bound to the dead daemon's lease"
pn_expect_eq "$(pn_etcd_leases | wc -l)" $((2 * N)) "leases after the restart"
pn_pass "SIGKILL + restart: node1 reclaimed $(echo $mine) under a new lease"
