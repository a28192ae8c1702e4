#!/usr/bin/env bash
# The plugin's options as the kernel sees them: the `mac` capability, `mtu`,
# IPAM routes instead of the default route, DNS in the Result, and the MTU
# detected from the node's default-route link when none is configured.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
before=$(pn_state "$node" "$PN_TMP/data")
pn_conf opts '{"cniVersion":"1.0.0","name":"opts","plugins":[{"type":"podnet","mtu":1400,
  "capabilities":{"mac":true},"dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]},
  "ipam":{"type":"podnet-ipam","dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.60.0.0/24"}]],
    "routes":[{"dst":"10.96.0.0/12"},{"dst":"192.0.2.0/24","gw":"10.60.0.1"}]}}]}'
pod=$(pn_netns opts)
r=$(pn_cni "$node" add opts "$pod" CNI_CONTAINERID=o1 CAP_ARGS='{"mac":"0a:58:0a:3c:00:99"}')

pn_expect_eq "$(ip -n "$pod" -j link show eth0 | jq -r '.[0].address')" 0a:58:0a:3c:00:99 "pod MAC from the capability"
pn_expect_eq "$(jq -r '.interfaces[1].mac' <<<"$r")" 0a:58:0a:3c:00:99 "MAC in the Result"
pn_expect_eq "$(ip -n "$pod" -j link show eth0 | jq -r '.[0].mtu')" 1400 "pod MTU"
hostveth=$(jq -r '.interfaces[0].name' <<<"$r")
pn_expect_eq "$(ip -n "$node" -j link show "$hostveth" | jq -r '.[0].mtu')" 1400 "host veth MTU"
pn_expect_eq "$(ip -n "$pod" route show default | wc -l)" 0 "no default route when IPAM gives routes"
ip -n "$pod" route show 10.96.0.0/12 | grep -q "via 10.60.0.1 dev eth0" || pn_fail "IPAM route 10.96.0.0/12 via the gateway"
ip -n "$pod" route show 192.0.2.0/24 | grep -q "via 10.60.0.1 dev eth0" || pn_fail "IPAM route with its own gw"
pn_expect_eq "$(jq -c .dns <<<"$r")" '{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]}' "DNS in the Result"
pn_cni "$node" del opts "$pod" CNI_CONTAINERID=o1 CAP_ARGS='{"mac":"0a:58:0a:3c:00:99"}'
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after DEL"
pn_pass "mac capability, mtu, IPAM routes, DNS"

# No mtu in the config: the MTU of the link the node routes outside traffic
# through (here the default route's).
# That "uplink" is a bridge with no ports inside the node namespace: a dead end,
# nothing can leave through it.
ip -n "$node" link add uplink type bridge
ip -n "$node" link set uplink mtu 1450 addrgenmode none up
ip -n "$node" addr add 203.0.113.2/24 dev uplink
ip -n "$node" route add default via 203.0.113.1 dev uplink onlink
pn_conf auto '{"cniVersion":"1.0.0","name":"auto","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.61.0.0/24"}]]}}]}'
pod=$(pn_netns auto)
pn_cni "$node" add auto "$pod" CNI_CONTAINERID=a1 >/dev/null
pn_expect_eq "$(ip -n "$pod" -j link show eth0 | jq -r '.[0].mtu')" 1450 "MTU detected from the link of the route outside"
pn_cni "$node" del auto "$pod" CNI_CONTAINERID=a1
pn_pass "MTU detected from the link the node routes outside traffic through"
