#!/usr/bin/env bash
# The README's first command: installs dependencies, builds podnet, and shows
# it giving two Pods on one node their own IPs (IPv4 + IPv6) through the real
# libcni, as a container runtime would; the Pods ping each other; then every
# Pod is deleted and the node is shown clean. All inside network namespaces
# this script creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bash scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target podnet podnet-ipam cnitool >/dev/null

export PODNET_BIN=$PWD/$BUILD/bin PODNET_SRC=$PWD
source tests/lib/common.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

node=$(pn_node node1)
podA=$(pn_netns podA)
podB=$(pn_netns podB)
pn_conf podnet '{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/leases","ranges":[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:10:244:1::/64"}]]}}]}'
say "node namespace $node, pods $podA and $podB"
cat "$PN_TMP/net.d/podnet.conflist"

for pod in "$podA" "$podB"; do
  say "ADD $pod (cnitool add podnet /run/netns/$pod)"
  pn_cni "$node" add podnet "$pod" CNI_CONTAINERID="$pod" | tee "$PN_TMP/$pod.json"
done
ipA=$(jq -r '.ips[] | select(.address | contains(".")) | .address | split("/")[0]' "$PN_TMP/$podA.json")
ipB6=$(jq -r '.ips[] | select(.address | contains(":")) | .address | split("/")[0]' "$PN_TMP/$podB.json")
ipB=$(jq -r '.ips[] | select(.address | contains(".")) | .address | split("/")[0]' "$PN_TMP/$podB.json")

say "inside $podA"
ip -n "$podA" -br addr show dev eth0
ip -n "$podA" route
say "on the node"
ip -n "$node" -br link show type veth
ip -n "$node" route

say "$podA pings $podB ($ipB, $ipB6) and $podB pings $podA ($ipA)"
ip netns exec "$podA" ping -c 2 -W 2 "$ipB"
ip netns exec "$podA" ping -6 -c 2 -W 2 "$ipB6"
ip netns exec "$podB" ping -c 2 -W 2 "$ipA"

for pod in "$podA" "$podB"; do
  say "DEL $pod"
  pn_cni "$node" del podnet "$pod" CNI_CONTAINERID="$pod"
done
say "node after DEL: veths, routes, leases"
echo "veths: $(ip -n "$node" -o link show type veth | wc -l)"
echo "routes: $(ip -n "$node" route | wc -l)"
echo "leases: $(ls "$PN_TMP/leases/podnet" | grep -vc -e '^lock$' -e '^last_reserved_ip' || true)"
say "demo done: namespaces are removed on exit"
