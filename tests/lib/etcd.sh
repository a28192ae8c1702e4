# shellcheck shell=bash
# Helpers for tests with etcd as podnetd's node source: source after
# tests/lib/common.sh and tests/lib/cluster.sh.
#
# etcd (Debian's etcd-server 3.4) runs inside the underlay namespace, on an
# address of its bridge (192.168.77.2, beside the nodes' 192.168.77.10+i),
# listening there only, with its data in $PN_TMP/etcd; cleanup kills it by PID.

PN_ETCD_IP=192.168.77.2
PN_ETCD_URL="http://$PN_ETCD_IP:2379"
PN_ETCD_PREFIX=/podnet/subnets/
PN_ETCD_TTL=${PN_ETCD_TTL:-5}
PN_ETCD_CIDRS=10.244.0.0/16,fd00:10:244::/48
PN_ETCD_LEN4=24 # the node subnets' prefix lengths (--subnet-len-v4, -v6)
PN_ETCD_LEN6=64
PN_ETCD_PID=

# pn_etcd_start UNDERLAY: starts etcd in UNDERLAY (the address on br0 is added
# once) and waits until it answers; sets PN_ETCD_PID. The same data dir is
# reused by a later call, as a restarted etcd member would.
pn_etcd_start() {
  local u=$1 deadline
  PN_ETCD_NS=$u
  ip -n "$u" -o addr show dev br0 | grep -q " $PN_ETCD_IP/" || ip -n "$u" addr add "$PN_ETCD_IP/24" dev br0
  mkdir -p "$PN_TMP/etcd"
  # Big transactions: the scale test writes 500 leases in one.
  ip netns exec "$u" etcd --name pn --data-dir "$PN_TMP/etcd/data" \
    --listen-client-urls "$PN_ETCD_URL" --advertise-client-urls "$PN_ETCD_URL" \
    --listen-peer-urls "http://$PN_ETCD_IP:2380" --initial-advertise-peer-urls "http://$PN_ETCD_IP:2380" \
    --initial-cluster "pn=http://$PN_ETCD_IP:2380" --max-txn-ops 2000 \
    --logger zap --log-outputs stderr </dev/null >>"$PN_TMP/etcd/etcd.log" 2>&1 &
  PN_ETCD_PID=$!
  pn_track "$PN_ETCD_PID"
  deadline=$((SECONDS + PN_DEADLINE))
  until pn_etcdctl endpoint health >/dev/null 2>&1; do
    kill -0 "$PN_ETCD_PID" 2>/dev/null || { tail -20 "$PN_TMP/etcd/etcd.log" >&2; pn_fail "etcd exited"; }
    [ $SECONDS -lt $deadline ] || pn_fail "etcd not healthy after $PN_DEADLINE s"
    sleep 0.1
  done
}

# pn_etcd_stop: ends etcd (SIGTERM) and waits for it.
pn_etcd_stop() {
  kill "$PN_ETCD_PID"
  wait "$PN_ETCD_PID" 2>/dev/null || true
}

# pn_etcdctl ARGS...: etcdctl (v3 API) against the test's etcd, from the underlay.
pn_etcdctl() {
  ip netns exec "$PN_ETCD_NS" env ETCDCTL_API=3 etcdctl --endpoints "$PN_ETCD_URL" --command-timeout 30s "$@"
}

# pn_etcd_post PATH BODY: POSTs a JSON body to etcd's v3 gateway, prints the answer.
pn_etcd_post() {
  ip netns exec "$PN_ETCD_NS" curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' \
    --data-binary "$2" "$PN_ETCD_URL$1"
}

# pn_podnetd_etcd NODE I [flags...]: podnetd as node I in NODE with --source
# etcd, its addresses as in cluster.sh, leasing from both cluster CIDRs with
# TTL $PN_ETCD_TTL; sets PN_PID (call it in the calling shell, not in $(...)).
pn_podnetd_etcd() {
  local n=$1 i=$2
  shift 2
  pn_podnetd "$n" "$i" --source etcd --etcd-endpoints "$PN_ETCD_URL" --etcd-prefix "$PN_ETCD_PREFIX" \
    --cluster-cidr "$PN_ETCD_CIDRS" --node-address "192.168.77.$((10 + i)),fd77::$((10 + i))" \
    --subnet-len-v4 $PN_ETCD_LEN4 --subnet-len-v6 $PN_ETCD_LEN6 --lease-ttl "$PN_ETCD_TTL" --resync-interval 2 "$@"
}

# pn_etcd_leases: every lease under the prefix, one "NAME SUBNET ADDRESS4 ADDRESS6" line each, sorted.
pn_etcd_leases() {
  pn_etcdctl get --prefix "$PN_ETCD_PREFIX" --print-value-only |
    jq -r 'select(type == "object") | [.name, .podCIDRs[0], (.addresses[0] // "-"), (.addresses[1] // "-")] | join(" ")' |
    sort
}

# pn_etcd_subnets NAME: node NAME's leased subnets, one per line (IPv4 first).
pn_etcd_subnets() { pn_etcd_leases | awk -v n="$1" '$1 == n {print $2}' | sort -t: -k1,1; }

# pn_etcd_check_leases: fails unless every node's lease (name nodeJ) states
# the underlay addresses the test gave node J (192.168.77.(10+J), fd77::(10+J),
# as in cluster.sh) and a subnet of the size asked for inside the cluster CIDR
# of its family, and no two leases share a subnet.
pn_etcd_check_leases() {
  local bad
  bad=$(pn_etcd_leases | awk -v l4="$PN_ETCD_LEN4" -v l6="$PN_ETCD_LEN6" '
    seen[$2]++ { print "subnet " $2 " leased twice"; next }
    $1 !~ /^node[0-9]+$/ { next }
    {
      j = substr($1, 5) + 0
      if ($3 != "192.168.77." 10 + j || $4 != "fd77::" 10 + j)
        print $1 " states addresses " $3 " " $4 ", its real ones are 192.168.77." 10 + j " fd77::" 10 + j
      if ($2 ~ /:/ ? $2 !~ ("^fd00:10:244:([0-9a-f]+:)?:/" l6 "$") : $2 !~ ("^10\\.244\\.[0-9]+\\.0/" l4 "$"))
        print $1 " leased " $2 ", not a /" ($2 ~ /:/ ? l6 : l4) " of the cluster CIDR"
    }')
  [ -z "$bad" ] || pn_fail "leases in etcd: $bad"
}

# pn_etcd_expected_routes SELF [ROUTE...]: the routes node SELF (a name) should
# hold: for each subnet another node (nodeJ) leased in etcd, a route via node
# J's real underlay address, as the test assigned it (not as its lease states:
# pn_etcd_check_leases compares those); plus ROUTE..., the routes for leases
# the test wrote itself.
pn_etcd_expected_routes() {
  local self=$1
  shift
  pn_etcd_check_leases
  {
    pn_etcd_leases | awk -v self="$self" '$1 != self && $1 ~ /^node[0-9]+$/ {
      j = substr($1, 5) + 0
      if ($2 ~ /:/) print $2 " via fd77::" 10 + j " dev eth0 metric 1024 pref medium"
      else print $2 " via 192.168.77." 10 + j " dev eth0" }'
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } | sort
}

# pn_wait_etcd_routes NODE_NS NAME [SECONDS [ROUTE...]]: waits (SECONDS, ""
# for the default) until NODE_NS holds the routes pn_etcd_expected_routes NAME
# ROUTE... gives.
pn_wait_etcd_routes() {
  local n=$1 self=$2 seconds=${3:-} want
  shift $(($# < 3 ? $# : 3))
  want=$(pn_etcd_expected_routes "$self" "$@")
  pn_wait_routes "$n" "$want" "$seconds"
}
