#!/usr/bin/env bash
# podnet-ipam as the IPAM of the reference ptp and bridge plugins, driven
# through libcni: ADD, CHECK, DEL; addresses checked in the pod with `ip -j`.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
data="$PN_TMP/data"

# pod_addrs POD IFNAME: the pod interface's global addresses, sorted, "a/len" each.
pod_addrs() {
  ip -n "$1" -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.scope=="global") | "\(.local)/\(.prefixlen)"' | sort
}
# lease_owner NET IP: the lease file's content, CRLF shown as "|".
lease_owner() { tr '\r\n' '|' <"$data/$1/$2" | sed 's/||/|/'; }

# --- ptp, dual-stack: one address per range set --------------------------
pn_conf ptpnet '{"cniVersion":"1.0.0","name":"ptpnet","plugins":[{"type":"ptp","ipMasq":false,
  "ipam":{"type":"podnet-ipam","dataDir":"'"$data"'","routes":[{"dst":"0.0.0.0/0"}],
          "ranges":[[{"subnet":"10.60.0.0/24"}],[{"subnet":"fd60::/64"}]]}}]}'
pod=$(pn_netns ptp)
out=$(pn_cni "$node" add ptpnet "$pod" CNI_CONTAINERID=ptp1)
v4=$(jq -r '.ips[] | select(.address | contains(".")) | .address' <<<"$out")
v6=$(jq -r '.ips[] | select(.address | contains(":")) | .address' <<<"$out")
pn_expect_eq "$v4" "10.60.0.2/24" "ptp ADD IPv4 address"
pn_expect_eq "$v6" "fd60::2/64" "ptp ADD IPv6 address"
got=$(pod_addrs "$pod" eth0 | tr '\n' ' ')
pn_expect_eq "$got" "10.60.0.2/24 fd60::2/64 " "addresses in the pod (ip -j)"
ip -n "$pod" -j route show default | jq -e 'length == 1' >/dev/null || pn_fail "no default route in the ptp pod"
pn_expect_eq "$(lease_owner ptpnet 10.60.0.2)" "ptp1|eth0" "IPv4 lease file"
pn_expect_eq "$(lease_owner ptpnet fd60::2)" "ptp1|eth0" "IPv6 lease file (named as host-local names it)"
pn_cni "$node" check ptpnet "$pod" CNI_CONTAINERID=ptp1 >/dev/null || pn_fail "ptp CHECK"
pn_pass "ptp ADD + CHECK with podnet-ipam (dual-stack)"

pn_cni "$node" del ptpnet "$pod" CNI_CONTAINERID=ptp1 >/dev/null || pn_fail "ptp DEL"
[ ! -e "$data/ptpnet/10.60.0.2" ] && [ ! -e "$data/ptpnet/fd60::2" ] || pn_fail "ptp DEL left a lease"
ip -n "$pod" link show eth0 >/dev/null 2>&1 && pn_fail "ptp DEL left eth0 in the pod"
pn_cni "$node" del ptpnet "$pod" CNI_CONTAINERID=ptp1 >/dev/null || pn_fail "second DEL must succeed"
pn_pass "ptp DEL releases the leases; a second DEL succeeds"

# --- bridge: two pods on one bridge, distinct addresses, they reach each other -----
pn_conf brnet '{"cniVersion":"1.0.0","name":"brnet","plugins":[{"type":"bridge","bridge":"pnbr0","isGateway":true,
  "ipam":{"type":"podnet-ipam","dataDir":"'"$data"'","subnet":"10.61.0.0/24","gateway":"10.61.0.1"}}]}'
pa=$(pn_netns bra)
pb=$(pn_netns brb)
a=$(pn_cni "$node" add brnet "$pa" CNI_CONTAINERID=bra | jq -r '.ips[0].address')
b=$(pn_cni "$node" add brnet "$pb" CNI_CONTAINERID=brb | jq -r '.ips[0].address')
pn_expect_eq "$a" "10.61.0.2/24" "bridge pod A"
pn_expect_eq "$b" "10.61.0.3/24" "bridge pod B"
pn_expect_eq "$(pod_addrs "$pa" eth0)" "$a" "pod A address (ip -j)"
pn_expect_eq "$(pod_addrs "$pb" eth0)" "$b" "pod B address (ip -j)"
ip -n "$node" -j addr show dev pnbr0 | jq -e '.[0].addr_info[] | select(.local=="10.61.0.1")' >/dev/null ||
  pn_fail "bridge has no gateway address"
ip netns exec "$pa" ping -c1 -W2 "${b%/*}" >/dev/null || pn_fail "pod A cannot reach pod B"
pn_cni "$node" check brnet "$pa" CNI_CONTAINERID=bra >/dev/null || pn_fail "bridge CHECK"
pn_pass "bridge ADD + CHECK with podnet-ipam, pods reach each other"

# ADD again for the same attachment (a runtime retry) returns the same address.
again=$(echo '{"cniVersion":"1.0.0","name":"brnet","type":"bridge","ipam":{"type":"podnet-ipam","dataDir":"'"$data"'","subnet":"10.61.0.0/24"}}' |
  ip netns exec "$node" env CNI_COMMAND=ADD CNI_CONTAINERID=bra CNI_NETNS=/run/netns/$pa CNI_IFNAME=eth0 \
    CNI_PATH="$PODNET_BIN" "$PODNET_BIN/podnet-ipam" | jq -r '.ips[0].address')
pn_expect_eq "$again" "$a" "repeated ADD is idempotent"
pn_pass "repeated ADD returns the same address"

# CHECK fails, through the bridge plugin, when the attachment holds no lease.
mv "$data/brnet/10.61.0.2" "$PN_TMP/lease.bak"
set +e
out=$(pn_cni "$node" check brnet "$pa" CNI_CONTAINERID=bra)
rc=$?
set -e
mv "$PN_TMP/lease.bak" "$data/brnet/10.61.0.2"
[ "$rc" -ne 0 ] || pn_fail "CHECK without a lease must fail"
grep -q "failed to find address" <<<"$out" || pn_fail "CHECK error is not the IPAM's: $out"
pn_cni "$node" check brnet "$pa" CNI_CONTAINERID=bra >/dev/null || pn_fail "CHECK with the lease back"
pn_pass "CHECK fails when the attachment holds no address"

pn_cni "$node" del brnet "$pa" CNI_CONTAINERID=bra >/dev/null || pn_fail "bridge DEL A"
[ ! -e "$data/brnet/10.61.0.2" ] || pn_fail "bridge DEL left A's lease"
[ -e "$data/brnet/10.61.0.3" ] || pn_fail "bridge DEL of A released B's lease"
pn_cni "$node" del brnet "$pb" CNI_CONTAINERID=brb >/dev/null || pn_fail "bridge DEL B"
[ -z "$(ls "$data/brnet" | grep '^10\.')" ] || pn_fail "leases left after every DEL"
pn_pass "bridge DEL releases exactly that attachment"
