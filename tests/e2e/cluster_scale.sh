#!/usr/bin/env bash
# podnetd with PN_SCALE_NODES nodes in the cluster file (default 200; soak
# runs use 1,000): it programs all 2 * (nodes - 1) routes (IPv4 + IPv6), its
# resyncs and a second start change none of them (`ip monitor route` and the
# routes before and after), and its resident memory stays bounded. Prints the
# time to program them and the RSS.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

n=$(pn_node big)
# One L2 segment for all nodes: a veth pair inside the node (no peer outside).
ip -n "$n" link add eth0 type veth peer name eth0p
ip -n "$n" addr add 172.20.0.1/16 dev eth0
ip -n "$n" addr add fd20::1/64 dev eth0 nodad
ip -n "$n" link set eth0p up
ip -n "$n" link set eth0 up

count=${PN_SCALE_NODES:-200}
{
  printf '{"nodes": ['
  for ((i = 0; i < count; i++)); do
    ((i)) && printf ','
    printf '\n  {"name": "node%d", "addresses": ["172.20.%d.%d", "fd20::%x"], "podCIDRs": ["10.%d.%d.0/24", "fd00:20:%x::/64"]}' \
      "$i" $(((i + 1) / 250)) $(((i + 1) % 250 + 1)) $((i + 1)) $((100 + i / 256)) $((i % 256)) "$i"
  done
  printf ']}\n'
} >"$PN_CLUSTER_FILE"
want=$((2 * (count - 1)))

routes() { echo $(($(ip -n "$n" -4 route show proto $PN_PROTO | wc -l) + $(ip -n "$n" -6 route show proto $PN_PROTO | wc -l))); }
snapshot() { { ip -n "$n" -4 -j route show proto $PN_PROTO; ip -n "$n" -6 -j route show proto $PN_PROTO; } | jq -c .; }

# ASan keeps up to 256 MiB of freed memory in quarantine, which would make the
# RSS below measure the quarantine, not podnetd: keep it small here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
start=$(pn_now_ms)
pn_podnetd "$n" 0 --resync-interval 1 --log-level warn
pid=$PN_PID
until [ "$(routes)" = "$want" ]; do
  [ $(($(pn_now_ms) - start)) -lt $((PN_DEADLINE * 1000)) ] || pn_fail "only $(routes) of $want routes after $PN_DEADLINE s"
  sleep 0.05
done
elapsed=$(($(pn_now_ms) - start))
pn_wait_ready "$n"
# Two resyncs (each re-reads the file and re-dumps the routes) change nothing.
before=$(snapshot)
pn_monitor_start "$n"
pn_wait_reconciles 2 "$n"
pn_expect_eq "$(pn_monitor_stop "$n")" "" "route events during resyncs"
pn_expect_eq "$(snapshot)" "$before" "routes after resyncs"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
metrics=$(pn_http "$n" /metrics)
pn_expect_eq "$(awk '$1 == "podnetd_routes_programmed" {print $2}' <<<"$metrics")" "$want" "routes programmed"
pn_expect_eq "$(awk '$1 == "podnetd_nodes_known" {print $2}' <<<"$metrics")" "$count" "nodes known"
last=$(awk '$1 == "podnetd_reconcile_last_duration_seconds" {print $2}' <<<"$metrics")
sanitized=no
grep -q __asan_init "$PODNET_BIN/podnetd" 2>/dev/null && sanitized=yes
echo "MEASURE nodes=$count routes=$want start_to_all_routes_ms=$elapsed steady_reconcile_s=$last rss_kib=$rss peak_rss_kib=$hwm asan=$sanitized"
# Generous bound: the ASan build carries shadow memory; a release build uses far less.
limit=200000
[ "$sanitized" = no ] && limit=50000
[ "$rss" -lt "$limit" ] || pn_fail "RSS $rss KiB over $limit KiB"

# Restart: nothing to change, at start or in the resyncs after it.
pn_monitor_start "$n"
kill -TERM "$pid"
wait "$pid"
pn_podnetd "$n" 0 --resync-interval 1 --log-level warn
pid=$PN_PID
pn_wait_ready "$n"
pn_wait_metric "$n" podnetd_reconcile_total 3
pn_expect_eq "$(pn_monitor_stop "$n")" "" "route events across a restart"
pn_expect_eq "$(snapshot)" "$before" "routes after restart"
pn_expect_eq "$(routes)" "$want" "routes after restart"
pn_pass "$count nodes: $want routes in ${elapsed} ms, RSS ${rss} KiB (ASan: $sanitized); restart changes nothing"
