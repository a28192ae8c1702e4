# Helpers for multi-node tests: source after tests/lib/common.sh.
#
# A cluster is an underlay namespace holding a bridge, and node namespaces
# attached to it by veth (eth0 in the node). Node i (1..200) has the underlay
# addresses 192.168.77.(10+i)/24 and fd77::(10+i)/64, and the pod CIDRs
# 10.244.i.0/24 and fd00:10:244:i::/64. There is no uplink and no default
# route: nothing leaves the test's namespaces. Each node runs its own podnetd,
# all watching one cluster file.

PN_PROTO=152 # podnetd's route protocol (daemon/routes.hpp kRouteProtocol)
PN_CLUSTER_FILE="$PN_TMP/cluster/cluster.json"
mkdir -p "$PN_TMP/cluster"

# pn_underlay: the underlay namespace, with bridge br0 up; prints its name.
pn_underlay() {
  local u
  u=$(pn_netns underlay)
  ip -n "$u" link add br0 type bridge
  ip -n "$u" link set br0 addrgenmode none
  ip -n "$u" link set br0 up
  echo "$u"
}

# pn_cluster_node UNDERLAY I: node namespace I attached to the underlay; prints its name.
pn_cluster_node() {
  local u=$1 i=$2 n
  n=$(pn_node "n$i")
  ip -n "$n" link add eth0 type veth peer name "u$i" netns "$u"
  ip -n "$u" link set "u$i" master br0
  ip -n "$u" link set "u$i" up
  ip -n "$n" addr add "192.168.77.$((10 + i))/24" dev eth0
  ip -n "$n" addr add "fd77::$((10 + i))/64" dev eth0 nodad
  # No DAD on the underlay link: its link-local address, which sources the
  # neighbour solicitations for forwarded Pod traffic, is usable at once.
  ip netns exec "$n" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip -n "$n" link set eth0 up
  mkdir -p "$PN_TMP/node$i/net.d"
  echo "$n"
}

# pn_cluster_json I...: a cluster file listing nodes I... (as above).
pn_cluster_json() {
  local i sep=""
  printf '{"nodes": ['
  for i in "$@"; do
    printf '%s\n  {"name": "node%s", "addresses": ["192.168.77.%s", "fd77::%s"], "podCIDRs": ["10.244.%s.0/24", "fd00:10:244:%s::/64"]}' \
      "$sep" "$i" "$((10 + i))" "$((10 + i))" "$i" "$i"
    sep=","
  done
  printf ']}\n'
}

# pn_cluster_write JSON: replaces the cluster file atomically (rename), as a
# config management tool would.
pn_cluster_write() {
  printf '%s\n' "$1" >"$PN_CLUSTER_FILE.tmp"
  mv -f "$PN_CLUSTER_FILE.tmp" "$PN_CLUSTER_FILE"
}

# pn_podnetd NODE I [flags...]: starts podnetd as node I inside NODE (tracked),
# in the calling shell (not in $(...)), so that `wait $PN_PID` works; sets PN_PID.
# Its log is $PN_TMP/node$I/podnetd.log.
pn_podnetd() {
  local n=$1 i=$2
  shift 2
  mkdir -p "$PN_TMP/node$i/net.d"
  ip netns exec "$n" "$PODNET_BIN/podnetd" --node-name "node$i" --cluster-file "$PN_CLUSTER_FILE" \
    --cni-conf-dir "$PN_TMP/node$i/net.d" --ipam-data-dir "$PN_TMP/node$i/leases" \
    --log-file "$PN_TMP/node$i/podnetd.log" "$@" </dev/null >>"$PN_TMP/node$i/podnetd.out" 2>&1 &
  PN_PID=$!
  pn_track "$PN_PID"
}

# Deadlines below catch hangs, not slowness: generous enough for a loaded,
# sanitized build on a machine several times slower than a developer's.
PN_DEADLINE=${PN_DEADLINE:-60}

# pn_http NODE PATH: GET http://127.0.0.1:9650PATH inside NODE.
pn_http() { ip netns exec "$1" curl -sf --max-time 20 "http://127.0.0.1:9650$2"; }

# pn_metric NODE NAME: the value of podnetd's metric NAME in NODE.
pn_metric() {
  local v
  v=$(pn_http "$1" /metrics | awk -v k="$2" '$1 == k {print $2}')
  [ -n "$v" ] || pn_fail "no metric $2 from podnetd in $1"
  echo "$v"
}

# pn_wait_metric NODE NAME MIN [SECONDS]: waits until podnetd's metric NAME in
# NODE is >= MIN (e.g. the reconcile counter, to span resyncs without a sleep).
pn_wait_metric() {
  local n=$1 k=$2 min=$3 deadline=$((SECONDS + ${4:-$PN_DEADLINE})) v
  while :; do
    v=$(pn_http "$n" /metrics | awk -v k="$k" '$1 == k {print $2}') || v=""
    [ -n "$v" ] && awk -v v="$v" -v m="$min" 'BEGIN {exit !(v >= m)}' && return 0
    [ $SECONDS -lt $deadline ] || pn_fail "podnetd in $n: $k is '$v' after ${4:-$PN_DEADLINE} s, expected >= $min"
    sleep 0.05
  done
}

# pn_wait_reconciles N NODE...: waits until podnetd in each NODE has made N
# more reconcile passes than now (a resync makes one each interval).
pn_wait_reconciles() {
  local n=$1 node
  shift
  local -A now
  for node in "$@"; do now[$node]=$(pn_metric "$node" podnetd_reconcile_total); done
  for node in "$@"; do pn_wait_metric "$node" podnetd_reconcile_total $((now[$node] + n)); done
}

# pn_wait_ready NODE [SECONDS]: waits for podnetd's /healthz in NODE.
pn_wait_ready() {
  local n=$1 deadline=$((SECONDS + ${2:-$PN_DEADLINE}))
  until pn_http "$n" /healthz >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || pn_fail "podnetd in $n not ready"
    sleep 0.05
  done
}

# pn_routes NODE: podnetd's routes in NODE, both families, one per line, sorted
# (as `ip route show proto N` prints them: without the proto).
pn_routes() {
  { ip -n "$1" -4 route show proto $PN_PROTO; ip -n "$1" -6 route show proto $PN_PROTO; } | sed 's/ *$//' | sort
}

# pn_wait_routes NODE EXPECTED [SECONDS]: waits until pn_routes NODE is EXPECTED.
pn_wait_routes() {
  local n=$1 want=$2 deadline=$((SECONDS + ${3:-$PN_DEADLINE})) got
  while :; do
    got=$(pn_routes "$n")
    [ "$got" = "$want" ] && return 0
    [ $SECONDS -lt $deadline ] || pn_expect_eq "$got" "$want" "routes in $n"
    sleep 0.02
  done
}

# pn_expected_routes SELF I...: the routes node SELF should hold for a cluster of nodes I...
pn_expected_routes() {
  local self=$1 i
  shift
  for i in "$@"; do
    [ "$i" = "$self" ] && continue
    echo "10.244.$i.0/24 via 192.168.77.$((10 + i)) dev eth0"
    echo "fd00:10:244:$i::/64 via fd77::$((10 + i)) dev eth0 metric 1024 pref medium"
  done | sort
}

# pn_cni_node NODE I VERB POD: the libcni client inside NODE with the conflist node I's podnetd wrote.
pn_cni_node() {
  local n=$1 i=$2 verb=$3 pod=$4
  ip netns exec "$n" env NETCONFPATH="$PN_TMP/node$i/net.d" CNI_PATH="$PODNET_BIN:$REF_CNI" \
    CNI_CACHE_DIR="$PN_TMP/node$i/cache" CNI_CONTAINERID="ctr-$pod" "$CNITOOL" "$verb" podnet "/run/netns/$pod"
}

# pn_wait_ping NS ADDR...: waits until NS gets an echo reply from each ADDR
# (a fresh veth may take a moment to pass packets; IPv6 addresses too).
pn_wait_ping() {
  local ns=$1 a deadline=$((SECONDS + PN_DEADLINE))
  shift
  for a in "$@"; do
    until ip netns exec "$ns" ping -c 1 -W 1 "$a" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || pn_fail "no echo reply from $a in $ns"
    done
  done
}

# pn_now_ms: milliseconds since the epoch.
pn_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# pn_cluster_pair: a 2-node cluster (one cluster file, podnetd on each node),
# both nodes ready with each other's routes; sets PN_N1 and PN_N2 to the
# node namespaces.
pn_cluster_pair() {
  local u
  u=$(pn_underlay)
  PN_N1=$(pn_cluster_node "$u" 1)
  PN_N2=$(pn_cluster_node "$u" 2)
  pn_cluster_write "$(pn_cluster_json 1 2)"
  pn_podnetd "$PN_N1" 1
  pn_podnetd "$PN_N2" 2
  pn_wait_ready "$PN_N1"
  pn_wait_ready "$PN_N2"
  pn_wait_routes "$PN_N1" "$(pn_expected_routes 1 1 2)"
  pn_wait_routes "$PN_N2" "$(pn_expected_routes 2 1 2)"
}

# Route-event windows. Silence from `ip monitor route` proves nothing unless it
# was listening, and its output is complete only up to what it has printed.
# pn_monitor_start opens a window once the monitor has printed a marker (a
# blackhole route added and deleted in the node's private table 4242, which
# podnetd ignores: it watches the main table only); pn_monitor_stop closes it
# with a second marker. A netlink socket gets its events in order, so once the
# second marker is printed, so is every route event before it. No sleeps: each
# wait is for a line, with a deadline that only catches a hang.
PN_MON_TABLE=4242
PN_MON_STOP=198.51.100.1

# _pn_monitor_mark NODE FILE ADDR POLLS: adds and deletes marker ADDR in NODE;
# true once FILE shows its deletion, false after POLLS looks 10 ms apart.
_pn_monitor_mark() {
  local n=$1 f=$2 a=$3 polls=$4
  ip -n "$n" route add blackhole "$a/32" table $PN_MON_TABLE
  ip -n "$n" route del blackhole "$a/32" table $PN_MON_TABLE
  until grep -qF "Deleted blackhole $a table $PN_MON_TABLE " "$f"; do
    ((polls-- > 0)) || return 1
    sleep 0.01
  done
}

# pn_monitor_start NODE [IP_OPTION...]: starts `ip IP_OPTION... monitor route`
# in NODE (tracked; e.g. -ts for timestamps) and returns once it is shown to be
# listening. One window per node at a time.
pn_monitor_start() {
  local n=$1 f="$PN_TMP/monitor.$1" k=0 deadline=$((SECONDS + PN_DEADLINE))
  shift
  [ ! -e "$f.pid" ] || pn_fail "a route monitor already runs in $n"
  : >"$f.txt"
  ip -n "$n" "$@" monitor route >>"$f.txt" 2>&1 &
  echo $! >"$f.pid"
  pn_track $!
  # A marker made before the monitor subscribed is never printed: make new
  # ones (203.0.113.1, .2, ...), each waited for longer (to 1 s), until one is.
  until _pn_monitor_mark "$n" "$f.txt" "203.0.113.$((++k))" $((k < 10 ? 10 * k : 100)); do
    kill -0 "$(cat "$f.pid")" 2>/dev/null || pn_fail "ip monitor in $n exited: $(cat "$f.txt")"
    if [ $SECONDS -ge $deadline ] || [ $k -ge 250 ]; then pn_fail "ip monitor in $n never printed a marker"; fi
  done
}

# pn_monitor_stop NODE: closes NODE's window; prints the route events of the
# window (between the markers, markers excluded), one per line. Left out too:
# the kernel's own entries in the local table (an address becoming usable, as
# an IPv6 link-local one after DAD, on the kernel's schedule); podnetd never
# writes that table.
pn_monitor_stop() {
  local n=$1 f="$PN_TMP/monitor.$1" pid
  pid=$(cat "$f.pid")
  _pn_monitor_mark "$n" "$f.txt" $PN_MON_STOP $((PN_DEADLINE * 100)) || pn_fail "ip monitor in $n never printed its closing marker"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -f "$f.pid"
  # A full socket buffer drops events: then the window proves nothing.
  if grep -qi -e 'No buffer space' -e 'receive error' "$f.txt"; then pn_fail "ip monitor in $n lost events: $(grep -i -e 'No buffer space' -e 'receive error' "$f.txt" | head -3)"; fi
  awk -v t=" table $PN_MON_TABLE" -v stop="blackhole $PN_MON_STOP table $PN_MON_TABLE" '
    !open { if ($0 ~ /(^|\] )Deleted blackhole 203\.0\.113\.[0-9]+ table / && index($0, t)) open = 1; next }
    index($0, stop) { exit }
    /(^|\] )(Deleted )?blackhole 203\.0\.113\.[0-9]+ table / && index($0, t) { next }
    / table local / && / proto kernel / { next }
    { print }' "$f.txt"
}
