#!/usr/bin/env bash
# podnetd's HTTP endpoints are read-only and listen where they are told:
# - POST, PUT, DELETE and PATCH (with a body) on every path are refused with a
#   405 status and change nothing (routes, conflist, /status, /metrics);
# - by default podnetd listens on 127.0.0.1:9650 only (not on the node's
#   underlay addresses); --listen ADDR:PORT moves it there, reachable from
#   another node; --listen "" opens no socket at all.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
n2=$(pn_cluster_node "$u" 2)
pn_cluster_write "$(pn_cluster_json 1 2 3)"
# No resync during the test: nothing but the requests can change the counters.
pn_podnetd "$n1" 1 --resync-interval 600
pid=$PN_PID
pn_wait_ready "$n1"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)"

# What a write request could change. The reconcile counters and durations are
# left out: podnetd's own route events after start trigger a follow-up pass
# whenever they arrive.
state() {
  pn_routes "$n1"
  cat "$PN_TMP/node1/net.d/10-podnet.conflist"
  pn_http "$n1" /status
  pn_http "$n1" /metrics | grep -v -e '^podnetd_reconcile_total ' -e '^podnetd_reconcile_duration_seconds' \
    -e '^podnetd_reconcile_last_duration_seconds '
}
before=$(state)
tried=0
for method in POST PUT DELETE PATCH; do
  for path in /healthz /metrics /status / /routes; do
    code=$(ip netns exec "$n1" curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X "$method" \
      -H 'Content-Type: application/json' --data '{"nodes": []}' "http://127.0.0.1:9650$path")
    [[ $code == 405 ]] || pn_fail "$method $path: status $code, want 405"
    tried=$((tried + 1))
  done
done
pn_expect_eq "$(state)" "$before" "routes, conflist, /status and /metrics after $tried write requests"
kill -0 "$pid" || pn_fail "podnetd died"
pn_pass "$tried write requests (POST/PUT/DELETE/PATCH) refused with 405, nothing changed"

listening() { ip netns exec "$1" ss -Hltn | awk '{print $4}' | sort; }
pn_expect_eq "$(listening "$n1")" "127.0.0.1:9650" "podnetd's listening sockets by default"
ip netns exec "$n1" curl -s --max-time 2 http://192.168.77.11:9650/healthz >/dev/null &&
  pn_fail "reachable on the underlay address by default"
ip netns exec "$n2" curl -s --max-time 2 http://192.168.77.11:9650/healthz >/dev/null &&
  pn_fail "reachable from another node by default"
pn_pass "default: 127.0.0.1:9650 only"

kill -TERM "$pid"
wait "$pid" || true
pn_podnetd "$n1" 1 --resync-interval 600 --listen 192.168.77.11:9651
pid=$PN_PID
deadline=$((SECONDS + PN_DEADLINE))
until ip netns exec "$n2" curl -sf --max-time 20 http://192.168.77.11:9651/healthz >/dev/null; do
  [ $SECONDS -lt $deadline ] || pn_fail "not reachable on --listen 192.168.77.11:9651"
  sleep 0.1
done
pn_expect_eq "$(listening "$n1")" "192.168.77.11:9651" "podnetd's listening sockets with --listen"
pn_http "$n1" /healthz >/dev/null && pn_fail "still on 127.0.0.1:9650 with --listen"
pn_pass "--listen 192.168.77.11:9651: there only"

kill -TERM "$pid"
wait "$pid" || true
pn_podnetd "$n1" 1 --resync-interval 600 --listen ""
pid=$PN_PID
# Its start-up load (logged after the HTTP socket would have been opened).
deadline=$((SECONDS + PN_DEADLINE))
until [ "$(jq -c 'select(.msg == "node list loaded" and .why == "start")' "$PN_TMP/node1/podnetd.log" | wc -l)" -ge 3 ]; do
  kill -0 "$pid" 2>/dev/null || pn_fail "podnetd exited with --listen \"\""
  [ $SECONDS -lt $deadline ] || pn_fail "podnetd with --listen \"\" never loaded its node list"
  sleep 0.05
done
kill -0 "$pid" || pn_fail "podnetd exited with --listen \"\""
pn_expect_eq "$(listening "$n1")" "" "podnetd's listening sockets with --listen \"\""
pn_expect_eq "$(pn_routes "$n1")" "$(pn_expected_routes 1 1 2 3)" "routes with no HTTP"
pn_pass "--listen \"\": no socket, routes still kept"
