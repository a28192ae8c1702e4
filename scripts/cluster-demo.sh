#!/usr/bin/env bash
# A two-node podnet cluster on one machine: an underlay namespace with a
# bridge, two node namespaces on it, podnetd in each (it writes the node's CNI
# config and routes the other node's pod CIDRs), one Pod per node added
# through the real libcni; the Pods ping each other across nodes (IPv4 and
# IPv6). Everything lives in namespaces this script creates and removes on
# exit, even on failure. Run as root with PODNET_BIN=<build>/bin (podnetd,
# podnet, podnet-ipam, cnitool).
set -euo pipefail
cd "$(dirname "$0")/.."
export PODNET_BIN=${PODNET_BIN:-$PWD/build/bin} PODNET_SRC=$PWD
for b in podnetd podnet podnet-ipam cnitool; do
  [ -x "$PODNET_BIN/$b" ] || { echo "cluster-demo: $PODNET_BIN/$b missing: build first" >&2; exit 1; }
done
source tests/lib/common.sh
source tests/lib/cluster.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
n2=$(pn_cluster_node "$u" 2)
say "underlay $u (bridge br0); node1 = $n1 (192.168.77.11, fd77::11), node2 = $n2 (192.168.77.12, fd77::12)"
pn_cluster_write "$(pn_cluster_json 1 2)"
say "the cluster file both podnetds watch: $PN_CLUSTER_FILE"
cat "$PN_CLUSTER_FILE"

pn_podnetd "$n1" 1
pn_podnetd "$n2" 2
pn_wait_ready "$n1"
pn_wait_ready "$n2"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2)"
pn_wait_routes "$n2" "$(pn_expected_routes 2 1 2)"
say "node1's CNI config, written by its podnetd"
cat "$PN_TMP/node1/net.d/10-podnet.conflist"
say "podnetd status on node1"
ip netns exec "$n1" "$PODNET_BIN/podnetd" status
say "node1's routes from podnetd (proto $PN_PROTO)"
pn_routes "$n1"

podA=$(pn_netns podA)
podB=$(pn_netns podB)
say "ADD podA on node1, podB on node2 (cnitool add podnet, with each node's conflist)"
resA=$(pn_cni_node "$n1" 1 add "$podA")
resB=$(pn_cni_node "$n2" 2 add "$podB")
a4=$(pn_ip "$resA" 4) a6=$(pn_ip "$resA" 6) b4=$(pn_ip "$resB" 4) b6=$(pn_ip "$resB" 6)
echo "podA: $a4 $a6"
echo "podB: $b4 $b6"

say "podA (node1) pings podB (node2) and back"
ip netns exec "$podA" ping -c 2 -W 2 "$b4"
ip netns exec "$podA" ping -6 -c 2 -W 2 "$b6"
ip netns exec "$podB" ping -c 2 -W 2 "$a4"

pn_cni_node "$n1" 1 del "$podA"
pn_cni_node "$n2" 2 del "$podB"
say "cluster demo done: podnetds stopped and namespaces removed on exit"
