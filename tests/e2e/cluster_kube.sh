#!/usr/bin/env bash
# Three nodes, each podnetd with --source kubernetes, against the test API
# server (tests/apiserver/, in the underlay namespace, TLS + token):
# - node add/remove, and the time from the API server's change to the route in
#   every node's kernel, for 1 node and for PN_KUBE_MANY nodes added (and
#   removed) at once;
# - an API server outage (SIGKILL, restarted on the same state) until every
#   podnetd retried twice and resynced twice, and for PN_KUBE_OUTAGE s: no
#   route changes meanwhile (`ip monitor route` in every node), the watch
#   resumes and later changes arrive;
# - a SIGKILLed podnetd restarted: no route event.
# Sizes (soak runs raise them): PN_KUBE_OUTAGE seconds (default 0: as long as
# the conditions take), PN_KUBE_MANY nodes (default 50).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
source "$PODNET_SRC/tests/lib/kube.sh"

outage=${PN_KUBE_OUTAGE:-0}
many=${PN_KUBE_MANY:-50}
# Resyncs every second: an outage window can wait for two of them.
resync=(--resync-interval 1)

pn_kube_pki
u=$(pn_underlay)
pn_apiserver_up "$u"
declare -A node pid
for i in 1 2 3; do node[$i]=$(pn_cluster_node "$u" "$i"); done
echo "tok-e2e" >"$PN_KUBE/tokens"
echo "tok-e2e" >"$PN_KUBE/client-token"
pn_apiserver "$u"
pn_kube_apply "$u" 1 2 3
pn_kubeconfig "$PN_KUBE/kubeconfig" tokenFile
for i in 1 2 3; do
  pn_kube_podnetd "${node[$i]}" "$i" "$PN_KUBE/kubeconfig" "${resync[@]}"
  pid[$i]=$PN_PID
done
for i in 1 2 3; do pn_wait_ready "${node[$i]}"; done
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
pn_wait_stat "$u" activeWatches 3
pn_pass "3 nodes converge from the Kubernetes API"

# pn_count NODE: podnetd's IPv4 routes in NODE.
count4() { ip -n "$1" -4 route show proto $PN_PROTO | wc -l; }

# One node added: from the API server's change to the route in every kernel.
t0=$(pn_now_ms)
pn_kube_apply "$u" 4
declare -A seen
left=3
while [ $left -gt 0 ]; do
  for i in 1 2 3; do
    [ -n "${seen[$i]:-}" ] && continue
    if [ -n "$(ip -n "${node[$i]}" -4 route show 10.244.4.0/24 proto $PN_PROTO)" ]; then
      seen[$i]=$(($(pn_now_ms) - t0))
      left=$((left - 1))
    fi
  done
  [ $(($(pn_now_ms) - t0)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "node4's route missing after $PN_DEADLINE s"
done
one_ms=$(printf '%s\n' "${seen[@]}" | sort -n | tail -1)
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3 4)"; done
echo "latency: 1 node added -> route in all 3 kernels: ${one_ms} ms (per node: ${seen[1]} ${seen[2]} ${seen[3]} ms)"
t0=$(pn_now_ms)
pn_kube_delete "$u" 4
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
echo "latency: 1 node removed -> route gone in all 3 kernels: $(($(pn_now_ms) - t0)) ms"
pn_pass "node add/remove"

# $many nodes added at once (IPv4 only; gateways on the underlay subnet).
specs=$(jq -cn --argjson n "$many" '[range(0; $n) | {name: "bulk\(.)",
  addresses: ["192.168.77.\(100 + (. % 100))"], podCIDRs: ["10.\(200 + (. / 256 | floor)).\(. % 256).0/24"]}]')
base=$(count4 "${node[1]}")
t0=$(pn_now_ms)
pn_kctl "$u" /nodes/apply "{\"nodes\":$specs}" >/dev/null
for i in 1 2 3; do
  until [ "$(count4 "${node[$i]}")" -eq $((base + many)) ]; do
    [ $(($(pn_now_ms) - t0)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "node$i: $(count4 "${node[$i]}") routes, expected $((base + many))"
    sleep 0.01
  done
done
many_ms=$(($(pn_now_ms) - t0))
echo "latency: $many nodes added at once -> all routes in all 3 kernels: ${many_ms} ms"
names=$(jq -cn --argjson n "$many" '[range(0; $n) | "bulk\(.)"]')
t0=$(pn_now_ms)
pn_kctl "$u" /nodes/delete "{\"names\":$names}" >/dev/null
for i in 1 2 3; do
  until [ "$(count4 "${node[$i]}")" -eq "$base" ]; do
    [ $(($(pn_now_ms) - t0)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "node$i: bulk routes not removed"
    sleep 0.01
  done
done
echo "latency: $many nodes removed at once -> routes gone in all 3 kernels: $(($(pn_now_ms) - t0)) ms"
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
pn_pass "$many simultaneous node changes"

# Outage: the API server is killed until every podnetd retried twice and
# resynced twice (and for $outage s). Nothing may change.
snapshot() { { ip -n "$1" -4 -j route show proto $PN_PROTO; ip -n "$1" -6 -j route show proto $PN_PROTO; } | jq -c .; }
retries() { grep -c 'Kubernetes API error; retrying' "$PN_TMP/node$1/podnetd.log" || true; }
declare -A before tried
for i in 1 2 3; do
  before[$i]=$(snapshot "${node[$i]}")
  tried[$i]=$(retries "$i")
  pn_monitor_start "${node[$i]}"
done
pn_apiserver_stop
t0=$SECONDS
pn_wait_reconciles 2 "${node[@]}"
for i in 1 2 3; do
  deadline=$((SECONDS + PN_DEADLINE))
  until [ "$(retries "$i")" -ge $((tried[$i] + 2)) ]; do
    [ $SECONDS -lt $deadline ] || pn_fail "node$i: no two retries logged during the outage"
    sleep 0.05
  done
done
while [ $((SECONDS - t0)) -lt "$outage" ]; do sleep 1; done
outage=$((SECONDS - t0))
for i in 1 2 3; do
  kill -0 "${pid[$i]}" || pn_fail "podnetd of node$i died during the outage"
  pn_http "${node[$i]}" /healthz >/dev/null || pn_fail "node$i unhealthy during the outage"
done
for i in 1 2 3; do
  pn_expect_eq "$(pn_monitor_stop "${node[$i]}")" "" "route events in node$i during the outage"
  pn_expect_eq "$(snapshot "${node[$i]}")" "${before[$i]}" "node$i's routes across the outage"
done
grep -q 'Kubernetes API error; retrying' "$PN_TMP/node1/podnetd.log" || pn_fail "no retry logged during the outage"
# Meanwhile the cluster changed where podnetd could not see it: node3's Node
# was deleted (in the stored state, with a newer resourceVersion and no
# history to replay). When the API server returns, the daemons catch up.
jq -c 'del(.nodes.node3) | .rv += 1' "$PN_KUBE/state.json" >"$PN_KUBE/state.json.new"
mv "$PN_KUBE/state.json.new" "$PN_KUBE/state.json"
pn_apiserver "$u"
pn_wait_stat "$u" activeWatches 3
for i in 1 2; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2)"; done
pn_wait_routes "${node[3]}" "$(pn_expected_routes 3 1 2 3)"
pn_kube_apply "$u" 3 5
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3 5)"; done
pn_pass "API server down ${outage} s: no route changed or flapped meanwhile; a change made during the outage caught up; later changes arrive"

# A SIGKILLed podnetd restarted changes no route.
n1=${node[1]}
b=$(snapshot "$n1")
pn_monitor_start "$n1"
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
pn_kube_podnetd "$n1" 1 "$PN_KUBE/kubeconfig" "${resync[@]}"
pid[1]=$PN_PID
pn_wait_ready "$n1"
pn_wait_stat "$u" activeWatches 3
# The start-up reconcile and two resyncs after it.
pn_wait_metric "$n1" podnetd_reconcile_total 3
pn_expect_eq "$(pn_monitor_stop "$n1")" "" "route events in node1 during the restart"
pn_expect_eq "$(snapshot "$n1")" "$b" "node1's routes across a podnetd restart"
pn_kube_delete "$u" 5
for i in 1 2 3; do pn_wait_routes "${node[$i]}" "$(pn_expected_routes "$i" 1 2 3)"; done
pn_pass "podnetd SIGKILL + restart: no route event; node removal still applied"
echo "RESULT kube latency_1_ms=$one_ms latency_${many}_ms=$many_ms"
