#!/usr/bin/env bash
# podnetd's restarts: stale podnet routes (of a node removed while podnetd was
# down, or left by hand) are removed at start; a SIGKILLed podnetd restarted
# changes no route (checked with `ip monitor route` during the restart and by
# comparing the routes before and after); SIGTERM exits cleanly and leaves the
# routes; a broken cluster file at start changes nothing.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

u=$(pn_underlay)
declare -A node pid
for i in 1 2 3; do node[$i]=$(pn_cluster_node "$u" "$i"); done
pn_cluster_write "$(pn_cluster_json 1 2 3)"
for i in 1 2 3; do
  pn_podnetd "${node[$i]}" "$i" --resync-interval 0.5
  pid[$i]=$PN_PID
done
for i in 1 2 3; do pn_wait_ready "${node[$i]}"; done
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
n1=${node[1]}

# Node 3 is removed while node1's podnetd is down; a stale route of ours is
# also left by hand. Both go when podnetd starts again; others' routes stay.
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
pn_cluster_write "$(pn_cluster_json 1 2)"
pn_wait_routes "${node[2]}" "$(pn_expected_routes 2 1 2)"
pn_expect_eq "$(pn_routes "$n1")" "$(pn_expected_routes 1 1 2 3)" "node1 while podnetd is down"
ip -n "$n1" route add 10.244.50.0/24 via 192.168.77.50 proto $PN_PROTO
ip -n "$n1" route add 10.244.51.0/24 via 192.168.77.51 proto static
pn_podnetd "$n1" 1 --resync-interval 0.5
pid[1]=$PN_PID
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2)"
ip -n "$n1" route show 10.244.51.0/24 | grep -q 'proto static' || pn_fail "a static route was removed"
pn_pass "stale podnet routes removed at start (node removed while down, and one left by hand); others kept"

# SIGKILL and restart change no route: watch every route event meanwhile.
pn_cluster_write "$(pn_cluster_json 1 2 3)"
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
before=$({ ip -n "$n1" -4 -j route show proto $PN_PROTO; ip -n "$n1" -6 -j route show proto $PN_PROTO; } | jq -c .)
pn_monitor_start "$n1"
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
pn_podnetd "$n1" 1 --resync-interval 0.5
pid[1]=$PN_PID
pn_wait_ready "$n1"
# The window spans the start-up reconcile and the resyncs after it.
pn_wait_metric "$n1" podnetd_reconcile_total 3
events=$(pn_monitor_stop "$n1")
after=$({ ip -n "$n1" -4 -j route show proto $PN_PROTO; ip -n "$n1" -6 -j route show proto $PN_PROTO; } | jq -c .)
pn_expect_eq "$after" "$before" "node1's routes across a restart"
pn_expect_eq "$events" "" "route events in node1 during the restart"
pn_pass "SIGKILL + restart: $(pn_metric "$n1" podnetd_reconcile_total) reconciles, no route deleted, added or replaced"

# SIGTERM: a clean exit (status 0) that leaves every route.
kill -TERM "${pid[1]}"
rc=0
wait "${pid[1]}" || rc=$?
pn_expect_eq "$rc" 0 "podnetd's exit status on SIGTERM"
grep -q '"msg":"shutting down; routes stay in place"' "$PN_TMP/node1/podnetd.log" || pn_fail "no shutdown log line"
pn_expect_eq "$(pn_routes "$n1")" "$(pn_expected_routes 1 1 2 3)" "node1's routes after SIGTERM"
pn_pass "SIGTERM: exit 0, routes stay"

# A broken cluster file at start: podnetd changes nothing and is not ready;
# once the file is fixed it converges.
printf '{"nodes": [' >"$PN_CLUSTER_FILE"
pn_monitor_start "$n1"
pn_podnetd "$n1" 1 --resync-interval 0.5
pid[1]=$PN_PID
# The start-up load and two resyncs fail.
pn_wait_metric "$n1" podnetd_node_source_errors_total 3
events=$(pn_monitor_stop "$n1")
pn_http "$n1" /healthz >/dev/null && pn_fail "ready without a node list"
pn_expect_eq "$events" "" "route events in node1 with a broken cluster file"
pn_expect_eq "$(pn_routes "$n1")" "$(pn_expected_routes 1 1 2 3)" "node1's routes with a broken cluster file"
pn_cluster_write "$(pn_cluster_json 1 2)"
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2)"
# A broken file later keeps the last good list.
pn_monitor_start "$n1"
errors=$(pn_metric "$n1" podnetd_node_source_errors_total)
printf 'garbage' >"$PN_CLUSTER_FILE"
pn_wait_metric "$n1" podnetd_node_source_errors_total $((errors + 3))
events=$(pn_monitor_stop "$n1")
pn_expect_eq "$events" "" "route events in node1 after the file broke"
pn_expect_eq "$(pn_routes "$n1")" "$(pn_expected_routes 1 1 2)" "node1's routes after the file broke"
pn_pass "a broken cluster file changes nothing; fixed, podnetd converges"
