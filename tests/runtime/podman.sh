#!/usr/bin/env bash
# podman 4.3 (Debian; runc, CNI backend) runs containers on podnet, in a node
# of a 2-node e2e cluster (podnetd on each). podman reads the conflist that
# node's podnetd wrote; a Pod on node 2 is added through libcni.
#  - a container gets its podnet address (the lease in the dataDir names it),
#    IPv4 and IPv6, pings its gateway and the Pod on node 2 (both families);
#  - `podman rm` leaves no link, address, route, lease, libcni cache entry,
#    podman network state or network namespace behind;
#  - chained: podnet + the reference tuning (a sysctl) + portmap (`-p`,
#    reached from node 2 over the underlay), dual-stack and IPv4-only;
#  - nothing of podman's reaches the machine: below /var/lib (an overlay for
#    podman) only libcni's empty cache directory was written, /run/containers,
#    /run/libpod, /etc/cni/net.d, /dev/shm/libpod_lock are untouched, and the
#    test's cgroups are removed.
# podman runs with `nsenter --net` (not `ip netns exec`, which remounts /sys
# and hides the cgroup filesystem runc needs), in a mount namespace of the
# test's own (tests/lib/runtime.sh).
set -euo pipefail
source "$PODNET_SRC/tests/lib/runtime.sh"
pn_runtime_private_mounts "$0" "$@"
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"

for tool in podman runc conmon nsenter unshare jq curl iptables; do
  command -v "$tool" >/dev/null || pn_fail "$tool not installed (scripts/deps.sh)"
done
[ -x "$REF_CNI/portmap" ] && [ -x "$REF_CNI/tuning" ] || pn_fail "reference plugins missing in $REF_CNI"

# What the machine holds before, to compare at the end. /var/lib is not in
# it: podman sees an overlay there (pn_runtime_sandbox), whose upper layer is
# checked instead, so that no other test's writes to /var/lib count.
machine_state() {
  local p
  for p in /run/containers /run/libpod /etc/cni/net.d /etc/containers/networks /dev/shm/libpod_lock; do
    if [ -e "$p" ]; then find "$p" -printf '%p %s %T@\n' 2>/dev/null | sort; else echo "absent $p"; fi
  done
}
machine_before=$(machine_state)

pn_runtime_sandbox

# The cluster: node1 runs podman, node2 a Pod added through libcni.
pn_cluster_pair
n1=$PN_N1 n2=$PN_N2
conf1=$PN_TMP/node1/net.d/10-podnet.conflist
[ -f "$conf1" ] || pn_fail "podnetd wrote no conflist on node1"
leases=$(jq -r '.plugins[0].ipam.dataDir' "$conf1")/podnet
[ "$leases" = "$PN_TMP/node1/leases/podnet" ] || pn_fail "node1 conflist dataDir: $leases"

pod2=$(pn_netns pod2)
res=$(pn_cni_node "$n2" 2 add "$pod2")
pod2_4=$(pn_ip "$res" 4)
pod2_6=$(pn_ip "$res" 6)
pn_pass "cluster of 2 nodes; Pod on node2 at $pod2_4 / $pod2_6"

rootfs=$PN_TMP/rootfs
pn_busybox_rootfs "$rootfs"
pn_podman_setup "$n1" "$PN_TMP/node1/net.d"

# podman state that must be empty when no container exists: its containers,
# libcni's cache (in the /var/lib overlay), the network namespace it made for
# the last container (podman 4.3 names them /run/netns/netns-<uuid>).
sandbox=""
podman_leftovers() {
  pn_podman "$n1" ps -aq
  [ -d "$PN_VARLIB_UPPER/cni" ] && find "$PN_VARLIB_UPPER/cni" -type f
  [ -n "$sandbox" ] && [ -e "$sandbox" ] && echo "netns $sandbox"
  return 0
}

# check_container NAME FAMILIES(4|46) CONTAINER: address, lease, pings.
check_container() {
  local name=$1 fams=$2 cid=$3
  local ip4 ip6 addrs
  sandbox=$(pn_podman "$n1" inspect -f '{{.NetworkSettings.SandboxKey}}' "$cid")
  [[ $sandbox == /run/netns/* ]] && [ -e "$sandbox" ] || pn_fail "$name: sandbox $sandbox"
  ip4=$(pn_podman "$n1" inspect -f '{{(index .NetworkSettings.Networks "podnet").IPAddress}}' "$cid")
  [[ $ip4 == 10.244.1.* ]] || pn_fail "$name: IPv4 address $ip4 is not in node1's pod CIDR"
  addrs=$(pn_podman "$n1" exec "$cid" ip -o addr show dev eth0 | awk '{print $4}' | grep -v '^fe80:' | sort)
  # The lease files name this container and its interface.
  [ -f "$leases/$ip4" ] || pn_fail "$name: no lease file for $ip4"
  pn_expect_eq "$(tr '\r\n' '  ' <"$leases/$ip4" | sed 's/ *$//')" "$cid  eth0" "$name: lease of $ip4"
  local want="$ip4/24"
  if [ "$fams" = 46 ]; then
    ip6=$(pn_podman "$n1" inspect -f '{{(index .NetworkSettings.Networks "podnet").GlobalIPv6Address}}' "$cid")
    [[ $ip6 == fd00:10:244:1:* ]] || pn_fail "$name: IPv6 address $ip6 is not in node1's pod CIDR"
    [ -f "$leases/$ip6" ] || pn_fail "$name: no lease file for $ip6"
    want=$(printf '%s\n' "$ip4/24" "$ip6/64" | sort)
  fi
  pn_expect_eq "$addrs" "$want" "$name: addresses on eth0 in the container"
  # A fresh veth may take a moment to pass packets: ping with a deadline.
  pn_podman "$n1" exec "$cid" ping -c 1 -w 3 10.244.1.1 >/dev/null || pn_fail "$name: ping gateway"
  pn_podman "$n1" exec "$cid" ping -c 1 -w 3 "$pod2_4" >/dev/null || pn_fail "$name: ping Pod on node2"
  if [ "$fams" = 46 ]; then
    pn_podman "$n1" exec "$cid" ping -6 -c 1 -w 3 fd00:10:244:1::1 >/dev/null || pn_fail "$name: ping6 gateway"
    pn_podman "$n1" exec "$cid" ping -6 -c 1 -w 3 "$pod2_6" >/dev/null || pn_fail "$name: ping6 Pod on node2"
  fi
  # The Pod on node2 reaches the container back (routes both ways).
  ip netns exec "$pod2" ping -c 1 -w 3 "$ip4" >/dev/null || pn_fail "$name: ping from the Pod on node2"
  pn_pass "$name: container $ip4${ip6:+ / $ip6} (lease names it), pings gateway and the Pod on node2"
}

# check_removed NAME BEFORE: nothing of the container left after podman rm.
check_removed() {
  local name=$1 before=$2
  pn_expect_eq "$(pn_state "$n1" "$leases")" "$before" "$name: node1 after podman rm"
  pn_expect_eq "$(podman_leftovers)" "" "$name: podman state after podman rm"
  pn_pass "$name: after podman rm no link, address, route, lease, cache entry or netns is left"
}

# 1. podnet as podnetd configured it (dual-stack).
before=$(pn_state "$n1" "$leases")
pn_expect_eq "$(podman_leftovers)" "" "podman state before"
cid=$(pn_podman_run "$n1" -d --network podnet --rootfs "$rootfs" sleep 300)
# libcni's cache holds the attachment while the container lives: the check
# below looks in the right place.
[ -f "$PN_VARLIB_UPPER/cni/results/podnet-$cid-eth0" ] || pn_fail "no libcni cache entry for the container"
pn_expect_eq "$(pn_podman "$n1" exec "$cid" sh -c 'ulimit -n')" 1024 "nofile in the container"
check_container "podnet (podnetd's conflist)" 46 "$cid"
pn_podman "$n1" rm -f -t 0 "$cid" >/dev/null
check_removed "podnet" "$before"

# 2. Chained: podnet + tuning + portmap, in a conflist of the same network
# (same name, so the same lease directory), in a second config dir.
chain=$PN_TMP/chain.d
mkdir -p "$chain"
jq '.plugins += [{"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}},
                 {"type": "portmap", "capabilities": {"portMappings": true}}]' "$conf1" >"$chain/podnet.conflist"
mkdir -p "$PN_TMP/www" && echo "hello from podnet" >"$PN_TMP/www/index.html"
cid=$(PN_PODMAN_NETCONF=$chain pn_podman_run "$n1" -d --network podnet -p 8080:80 \
  -v "$PN_TMP/www:/www:ro" --rootfs "$rootfs" httpd -f -p 80 -h /www)
check_container "podnet+tuning+portmap" 46 "$cid"
pn_expect_eq "$(pn_podman "$n1" exec "$cid" cat /proc/sys/net/ipv4/conf/eth0/arp_notify)" 1 "tuning's sysctl"
# Published port, from node2 over the underlay to node1's address.
got=$(ip netns exec "$n2" curl -s --max-time 3 http://192.168.77.11:8080/index.html) ||
  pn_fail "-p 8080:80: no answer from node2"
pn_expect_eq "$got" "hello from podnet" "-p 8080:80 from node2"
pn_pass "chained: tuning's sysctl applied, portmap's -p 8080:80 answers node2 (dual-stack)"
PN_PODMAN_NETCONF=$chain pn_podman "$n1" rm -f -t 0 "$cid" >/dev/null
check_removed "podnet+tuning+portmap" "$before"
ip netns exec "$n1" iptables -t nat -S | grep -q "$cid" && pn_fail "portmap left rules of the container"

# 3. IPv4-only Pod with -p: podman calls ADD and DEL, never CHECK, so the
# reference portmap's IPv4-only CHECK bug is not reached.
chain4=$PN_TMP/chain4.d
mkdir -p "$chain4"
jq '.plugins[0].ipam.ranges |= [.[0]]' "$chain/podnet.conflist" >"$chain4/podnet.conflist"
cid=$(PN_PODMAN_NETCONF=$chain4 pn_podman_run "$n1" -d --network podnet -p 8081:80 \
  -v "$PN_TMP/www:/www:ro" --rootfs "$rootfs" httpd -f -p 80 -h /www)
check_container "podnet+tuning+portmap IPv4-only" 4 "$cid"
got=$(ip netns exec "$n2" curl -s --max-time 3 http://192.168.77.11:8081/index.html) ||
  pn_fail "IPv4-only -p 8081:80: no answer from node2"
pn_expect_eq "$got" "hello from podnet" "IPv4-only -p 8081:80 from node2"
pn_pass "chained, IPv4-only: portmap's -p 8081:80 answers node2"
PN_PODMAN_NETCONF=$chain4 pn_podman "$n1" rm -f -t 0 "$cid" >/dev/null
check_removed "podnet+tuning+portmap IPv4-only" "$before"

# 4. `podman run --rm` (attached): the container's output names its address.
out=$(pn_podman_run "$n1" --rm --network podnet --rootfs "$rootfs" ip -4 -o addr show dev eth0)
[[ $out == *" inet 10.244.1."* ]] || pn_fail "podman run --rm: $out"
check_removed "podman run --rm" "$before"

# Nothing of podman's reached the machine (seen without the /var/lib overlay).
pn_podman_cleanup
pn_runtime_unsandbox
pn_expect_eq "$(pn_podman_cgroups)" "" "the test's cgroups after cleanup"
# Below /var/lib podman wrote libcni's cache directory only (now empty), and
# nothing in /var/lib/containers.
pn_expect_eq "$(pn_varlib_written)" "$(printf '%s\n' cni cni/results)" "written below /var/lib"
pn_expect_eq "$(machine_state)" "$machine_before" "the machine's podman and CNI paths"
pn_pass "no cgroup, /var/lib write, /run/containers, /run/libpod, /etc/cni/net.d change or shm lock of podman's"
