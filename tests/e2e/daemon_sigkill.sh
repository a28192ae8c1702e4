#!/usr/bin/env bash
# podnetd SIGKILLed again and again while the node list changes: a writer
# rewrites the cluster file every ~30 ms, toggling nodes 21..40 at random,
# while nodes 2..20 stay. Each time podnetd is killed at a random moment and
# started again at once. The stable nodes' routes are never removed, replaced
# or re-added (`ip monitor route` runs throughout), and when the writer stops
# the routes are exactly those of the last file. Then a SIGKILL and restart
# with a quiet file changes no route at all, and the routes are right the
# moment podnetd is ready again. PN_SIGKILL_KILLS SIGKILLs (default 3; soak
# runs use 8).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

KILLS=${PN_SIGKILL_KILLS:-3}
u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
mapfile -t stable < <(seq 2 20)
pn_cluster_write "$(pn_cluster_json 1 "${stable[@]}")"
pn_podnetd "$n1" 1 --resync-interval 0.5
pid=$PN_PID
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 "${stable[@]}")"

pn_monitor_start "$n1"

# The writer: each file is nodes 1..20 and a random subset of 21..40; the
# last one written is in $PN_TMP/last.
(
  RANDOM=42
  while [ ! -e "$PN_TMP/stop" ]; do
    extra=()
    for i in $(seq 21 40); do ((RANDOM % 2)) && extra+=("$i"); done
    echo "1 ${stable[*]} ${extra[*]}" >"$PN_TMP/last.tmp"
    pn_cluster_write "$(pn_cluster_json 1 "${stable[@]}" "${extra[@]}")"
    mv -f "$PN_TMP/last.tmp" "$PN_TMP/last"
    sleep 0.03
  done
) &
writer=$!
pn_track $writer

for _ in $(seq 1 "$KILLS"); do
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pn_podnetd "$n1" 1 --resync-interval 0.5
  pid=$PN_PID
  pn_wait_ready "$n1"
done
touch "$PN_TMP/stop"
wait "$writer"
# shellcheck disable=SC2046
pn_wait_routes "$n1" "$(pn_expected_routes 1 $(cat "$PN_TMP/last"))"
pn_monitor_stop "$n1" >"$PN_TMP/monitor.txt"
changes=$(grep -c -e '10\.244\.' "$PN_TMP/monitor.txt" || true)
flaps=$(grep -E -e "10\.244\.($(seq -s '|' 2 20))\.0/24 " -e "fd00:10:244:($(seq -s '|' 2 20))::/64 " "$PN_TMP/monitor.txt" || true)
[ -z "$flaps" ] || pn_fail "stable nodes' routes changed across the SIGKILLs:"$'\n'"$(head -5 <<<"$flaps")"
[ "$changes" -gt 0 ] || pn_fail "the monitor saw no change of the toggled nodes"
pn_pass "$KILLS SIGKILLs while the node list changed: $changes route events for toggled nodes, 0 for stable ones, final routes exact"

# A quiet file: SIGKILL and restart change nothing, and the routes are right
# when podnetd reports ready.
before=$({ ip -n "$n1" -4 -j route show proto $PN_PROTO; ip -n "$n1" -6 -j route show proto $PN_PROTO; } | jq -c .)
pn_monitor_start "$n1"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pn_podnetd "$n1" 1 --resync-interval 0.5
pid=$PN_PID
pn_wait_ready "$n1"
after=$({ ip -n "$n1" -4 -j route show proto $PN_PROTO; ip -n "$n1" -6 -j route show proto $PN_PROTO; } | jq -c .)
pn_expect_eq "$after" "$before" "routes right after the restart"
# The start-up reconcile and two resyncs after it.
pn_wait_metric "$n1" podnetd_reconcile_total 3
pn_expect_eq "$(pn_monitor_stop "$n1")" "" "route events across a quiet restart"
pn_pass "SIGKILL + restart with a quiet file: no route event, routes right at ready"
