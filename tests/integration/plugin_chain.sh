#!/usr/bin/env bash
# podnet among its peers: the reference portmap chained after it consumes our
# Result (rules made and removed with the Pod); the reference host-local as a
# delegated IPAM; GC and STATUS (CNI 1.1, which Debian's libcni predates, so
# they are sent straight to the binary as a runtime would).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
before=$(pn_state "$node" "$PN_TMP/data")

# 1. portmap chained after podnet, with host-local as podnet's delegated IPAM.
pn_conf chain '{"cniVersion":"1.0.0","name":"chain","plugins":[
  {"type":"podnet","ipam":{"type":"host-local","dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.50.0.0/24"}]]}},
  {"type":"portmap","capabilities":{"portMappings":true}}]}'
pod=$(pn_netns pm)
# Runtimes pass the same capability args on every verb.
cap='{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'
r=$(pn_cni "$node" add chain "$pod" CNI_CONTAINERID=pm1 CAP_ARGS="$cap")
ip=$(pn_ip "$r" 4)
[ -f "$PN_TMP/data/chain/$ip" ] || pn_fail "host-local holds no lease for $ip"
ip netns exec "$node" iptables-save -t nat | grep -q "to-destination $ip:80" ||
  pn_fail "portmap made no DNAT rule to $ip:80"
# No CHECK here: portmap 1.1.1 fails its own CHECK for IPv4-only Pods ("could not
# check ipv6 dnat"), behind the reference ptp just the same.
pn_cni "$node" del chain "$pod" CNI_CONTAINERID=pm1 CAP_ARGS="$cap"
ip netns exec "$node" iptables-save -t nat | grep -q "$ip" && pn_fail "portmap rules survived DEL"
[ -f "$PN_TMP/data/chain/$ip" ] && pn_fail "host-local lease survived DEL"
pn_pass "portmap chained after podnet; host-local delegated"

# 2. GC: three pods, one valid; the others' veths and leases go.
# Pods are added through libcni at 1.0.0 (Debian's libcni cannot parse 1.1.0
# Results); GC and STATUS are sent at 1.1.0.
pn_conf gcnet '{"cniVersion":"1.0.0","name":"gcnet","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.51.0.0/24"}]]}}]}'
# Another podnet network's veth must survive gcnet's GC.
pn_conf other '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.52.0.0/24"}]]}}]}'
o=$(pn_netns other)
pn_cni "$node" add other "$o" CNI_CONTAINERID=other1 >/dev/null
for i in 1 2 3; do
  p=$(pn_netns "gc$i")
  pn_cni "$node" add gcnet "$p" CNI_CONTAINERID="gc$i" >/dev/null
done
pn_expect_eq "$(ip -n "$node" -o link show type veth | wc -l)" 4 "veths before GC"
conf=$(jq -c '.plugins[0] + {cniVersion: "1.1.0", name} + {"cni.dev/valid-attachments":[{"containerID":"gc2","ifname":"eth0"}]}' \
  "$PN_TMP/net.d/gcnet.conflist")
pn_plugin "$node" "$PODNET_BIN/podnet" "$conf" CNI_COMMAND=GC CNI_PATH="$PODNET_BIN" || pn_fail "GC failed"
pn_expect_eq "$(ip -n "$node" -o link show type veth | wc -l)" 2 "veths after GC (gc2 and the other network's)"
pn_expect_eq "$(grep -l gc "$PN_TMP"/data/gcnet/10.* | xargs -n1 head -1 | tr -d '\r')" gc2 "leases after GC"
[ -n "$(ls "$PN_TMP"/data/other/10.* 2>/dev/null)" ] || pn_fail "GC of gcnet released the other network's lease"
pn_pass "GC removes invalid attachments' veths and leases, only of its network"

# 3. STATUS: fine while addresses are left; code 50 when the range is full.
conf=$(jq -c '.plugins[0] + {cniVersion: "1.1.0", name}' "$PN_TMP/net.d/gcnet.conflist")
pn_plugin "$node" "$PODNET_BIN/podnet" "$conf" CNI_COMMAND=STATUS CNI_PATH="$PODNET_BIN" || pn_fail "STATUS failed"
pn_conf full '{"cniVersion":"1.0.0","name":"full","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.53.0.0/30"}]]}}]}'
p=$(pn_netns full)
pn_cni "$node" add full "$p" CNI_CONTAINERID=full1 >/dev/null
conf=$(jq -c '.plugins[0] + {cniVersion: "1.1.0", name}' "$PN_TMP/net.d/full.conflist")
out=$(pn_plugin "$node" "$PODNET_BIN/podnet" "$conf" CNI_COMMAND=STATUS CNI_PATH="$PODNET_BIN") &&
  pn_fail "STATUS succeeded with the range full"
pn_expect_eq "$(jq -r .code <<<"$out")" 50 "STATUS code with the range full"
pn_pass "STATUS: success, then 50 when full"
