#!/usr/bin/env bash
# The cluster file goes away for 60 s, in every way it can: deleted, garbage,
# valid JSON that fails validation (overlapping pod CIDRs), a directory in its
# place, a FIFO in its place (which must not block podnetd), empty. Meanwhile
# podnetd resyncs every 0.5 s: no route of its may be removed, replaced or
# added (`ip monitor route` runs throughout), the routes stay exactly right,
# and podnetd keeps answering. A change made while the source was away (a
# node removed, one added) is caught up within 2 s of the file's return.
# Last, the file as a Kubernetes ConfigMap volume shows it (a symlink through
# the "..data" symlink, which an update renames into place): each update is
# seen at once, not at the next resync.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

OUTAGE=${OUTAGE_SECONDS:-60}
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

ip -n "$n1" monitor route >"$PN_TMP/monitor.txt" 2>&1 &
monitor=$!
pn_track $monitor
sleep 0.3
errors_before=$(pn_http "$n1" /metrics | awk '$1 == "podnetd_node_source_errors_total" {print $2}')

# away SECONDS: keeps checking, for that long, that podnetd answers and its
# routes and conflist are untouched.
away() {
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt "$until" ]; do
    kill -0 "$pid" 2>/dev/null || pn_fail "podnetd died during the outage"
    pn_http "$n1" /healthz >/dev/null || pn_fail "podnetd stopped answering during the outage ($2)"
    pn_expect_eq "$(pn_routes "$n1")" "$want" "routes during the outage ($2)"
    sleep 1
  done
}
slice=$((OUTAGE / 6))
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
errors=$(pn_http "$n1" /metrics | awk '$1 == "podnetd_node_source_errors_total" {print $2}')
[ "$errors" -gt "$((errors_before + 20))" ] || pn_fail "source errors not counted: $errors_before -> $errors"

# The source returns with a change made while it was away.
back=$(pn_now_ms)
pn_cluster_write "$(pn_cluster_json 1 2 3 5 6 7)"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 5 6 7)" 2
caught=$(($(pn_now_ms) - back))
sleep 0.5
kill "$monitor"
wait "$monitor" 2>/dev/null || true
# Only node 4's removal and node 7's arrival may show in the monitor.
flaps=$(grep -v -e '10\.244\.[47]\.0/24' -e 'fd00:10:244:[47]::/64' "$PN_TMP/monitor.txt" |
  grep -e '10\.244\.' -e 'fd00:10:244:' -e "proto $PN_PROTO" || true)
[ -z "$flaps" ] || pn_fail "routes changed during the outage:"$'\n'"$flaps"
grep -q '^Deleted 10\.244\.4\.0/24' "$PN_TMP/monitor.txt" || pn_fail "the monitor did not see node 4's route go"
pn_expect_eq "$(cat "$PN_TMP/node1/net.d/10-podnet.conflist")" "$conflist" "the conflist across the outage"
pn_pass "source away ${OUTAGE}s (deleted, garbage, invalid, directory, FIFO, empty): $((errors - errors_before)) load errors, 0 routes removed or flapped; caught up in ${caught} ms"

# ConfigMap layout: cluster.json -> ..data/cluster.json, ..data -> ..<version>.
# A new podnetd resyncs only every 60 s: updates must come through inotify.
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
pn_podnetd "$n1" 1 --resync-interval 60
pid=$PN_PID
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 5 6 7)"
for v in 2 3; do
  nodes=(1 2 3 8)
  [ $v = 3 ] && nodes=(1 2 9)
  configmap $v "${nodes[@]}"
  pn_wait_routes "$n1" "$(pn_expected_routes 1 "${nodes[@]}")" 2
done
pn_pass "ConfigMap-style updates (..data symlink swap) seen at once"
