#!/usr/bin/env bash
# The cluster file goes away in every way it can: deleted, garbage, valid JSON
# that fails validation (overlapping pod CIDRs), a directory in its place, a
# FIFO in its place (which must not block podnetd), empty; each until podnetd
# has failed to load it twice, and for a sixth of PN_OUTAGE_SECONDS (default 0;
# soak runs use 60). Meanwhile podnetd resyncs every 0.5 s: no route of its may
# be removed, replaced or added (`ip monitor route` runs throughout), the routes
# stay exactly right, and podnetd keeps answering. A change made while the
# source was away (a node removed, one added) is caught up when the file
# returns, with exactly the route events it needs. Last, the file as a
# Kubernetes ConfigMap volume shows it (a symlink through the "..data" symlink,
# which an update renames into place): each update is seen through its change
# notification (podnetd resyncs only every 600 s).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

OUTAGE=${PN_OUTAGE_SECONDS:-0}
u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
# Nodes 2..6 exist only in the file: their routes need no namespace behind them.
pn_cluster_write "$(pn_cluster_json 1 2 3 4 5 6)"
pn_podnetd "$n1" 1 --resync-interval 0.5
pid=$PN_PID
pn_wait_ready "$n1"
want=$(pn_expected_routes 1 1 2 3 4 5 6)
pn_wait_routes "$n1" "$want"
conflist=$(cat "$PN_TMP/node1/net.d/10-podnet.conflist")

pn_monitor_start "$n1"
errors_before=$(pn_metric "$n1" podnetd_node_source_errors_total)

# away SECONDS WHAT: keeps checking that podnetd answers and its routes are
# untouched, until it has failed to load the file twice more and for SECONDS.
away() {
  local until=$((SECONDS + $1)) deadline=$((SECONDS + PN_DEADLINE)) e0 e
  e0=$(pn_metric "$n1" podnetd_node_source_errors_total)
  while :; do
    kill -0 "$pid" 2>/dev/null || pn_fail "podnetd died during the outage"
    pn_http "$n1" /healthz >/dev/null || pn_fail "podnetd stopped answering during the outage ($2)"
    pn_expect_eq "$(pn_routes "$n1")" "$want" "routes during the outage ($2)"
    e=$(pn_metric "$n1" podnetd_node_source_errors_total)
    [ "$e" -ge $((e0 + 2)) ] && [ $SECONDS -ge "$until" ] && return 0
    [ $SECONDS -lt $deadline ] || [ "$e" -ge $((e0 + 2)) ] || pn_fail "podnetd did not fail to load the file twice ($2): $e0 -> $e errors"
    sleep 0.1
  done
}
slice=$((OUTAGE / 6))
away_start=$SECONDS
rm -f "$PN_CLUSTER_FILE"
away "$slice" deleted
printf 'garbage{' >"$PN_CLUSTER_FILE"
away "$slice" garbage
# Valid JSON, invalid cluster: node 7 claims node 2's pod CIDR.
pn_cluster_write "$(pn_cluster_json 1 2 3 4 5 6 | sed 's|"node6", "addresses": \["192.168.77.16", "fd77::16"\], "podCIDRs": \["10.244.6.0/24"|"node6", "addresses": ["192.168.77.16", "fd77::16"], "podCIDRs": ["10.244.2.0/24"|')"
away "$slice" "overlapping pod CIDRs"
rm -f "$PN_CLUSTER_FILE"
mkdir "$PN_CLUSTER_FILE"
away "$slice" "a directory"
rmdir "$PN_CLUSTER_FILE"
mkfifo "$PN_CLUSTER_FILE"
away "$slice" "a FIFO"
rm -f "$PN_CLUSTER_FILE"
: >"$PN_CLUSTER_FILE"
away $((OUTAGE - 5 * slice)) empty
errors=$(pn_metric "$n1" podnetd_node_source_errors_total)
[ "$errors" -ge "$((errors_before + 12))" ] || pn_fail "source errors not counted: $errors_before -> $errors"

# The source returns with a change made while it was away.
back=$(pn_now_ms)
back_s=$SECONDS
pn_cluster_write "$(pn_cluster_json 1 2 3 5 6 7)"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 5 6 7)"
caught=$(($(pn_now_ms) - back))
# Two resyncs after the catch-up: no follow-up changes either.
pn_wait_reconciles 2 "$n1"
# Only node 4's removal and node 7's arrival show in the kernel.
pn_expect_eq "$(pn_monitor_stop "$n1" | sed 's/ *$//' | sort)" "$(sort <<EOF
Deleted 10.244.4.0/24 via 192.168.77.14 dev eth0 proto $PN_PROTO
Deleted fd00:10:244:4::/64 via fd77::14 dev eth0 proto $PN_PROTO metric 1024 pref medium
10.244.7.0/24 via 192.168.77.17 dev eth0 proto $PN_PROTO
fd00:10:244:7::/64 via fd77::17 dev eth0 proto $PN_PROTO metric 1024 pref medium
EOF
)" "route events in node1 over the outage and its catch-up"
pn_expect_eq "$(cat "$PN_TMP/node1/net.d/10-podnet.conflist")" "$conflist" "the conflist across the outage"
pn_pass "source away $((back_s - away_start)) s (deleted, garbage, invalid, directory, FIFO, empty): $((errors - errors_before)) load errors, 0 routes removed or flapped; caught up in ${caught} ms"

# ConfigMap layout: cluster.json -> ..data/cluster.json, ..data -> ..<version>.
# A new podnetd resyncs only every 600 s: updates must come through inotify.
kill -TERM "$pid"
wait "$pid" || true
dir=$(dirname "$PN_CLUSTER_FILE")
configmap() { # VERSION NODES...: an update as the kubelet writes it
  local v=$1
  shift
  mkdir "$dir/..$v"
  pn_cluster_json "$@" >"$dir/..$v/cluster.json"
  ln -s "..$v" "$dir/..data_tmp"
  mv -T "$dir/..data_tmp" "$dir/..data"
}
configmap 1 1 2 3 5 6 7
rm -f "$PN_CLUSTER_FILE"
ln -s ..data/cluster.json "$PN_CLUSTER_FILE"
pn_podnetd "$n1" 1 --resync-interval 600
pid=$PN_PID
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 5 6 7)"
for v in 2 3; do
  nodes=(1 2 3 8)
  [ $v = 3 ] && nodes=(1 2 9)
  loads=$(jq -c 'select(.msg == "node list loaded" and .why == "change")' "$PN_TMP/node1/podnetd.log" | wc -l)
  configmap $v "${nodes[@]}"
  pn_wait_routes "$n1" "$(pn_expected_routes 1 "${nodes[@]}")"
  [ "$(jq -c 'select(.msg == "node list loaded" and .why == "change")' "$PN_TMP/node1/podnetd.log" | wc -l)" -gt "$loads" ] ||
    pn_fail "update $v applied, but not through a change notification"
done
pn_pass "ConfigMap-style updates (..data symlink swap) seen through their change notifications"
