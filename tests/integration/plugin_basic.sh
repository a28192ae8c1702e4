#!/usr/bin/env bash
# podnet through the real libcni: ADD/CHECK/DEL for IPv4, IPv6 and dual-stack,
# in every cniVersion libcni 1.1 handles (1.1.0 Results, which Debian's libcni
# cannot parse, are checked by exec'ing the binary as a 1.1 runtime would);
# Pods reach each other and the node.
# The kernel is checked with ip(8), never with podnet's own code.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
# The node's own address, on a dummy link, so Pods have a node IP to ping.
ip -n "$node" link add nodelink type bridge
ip -n "$node" link set nodelink addrgenmode none
ip -n "$node" addr add 192.0.2.10/24 dev nodelink
ip -n "$node" addr add 2001:db8::10/64 dev nodelink nodad
ip -n "$node" link set nodelink up
before=$(pn_state "$node" "$PN_TMP/data")

conflist() { # VERSION RANGES
  pn_conf "net${1//./}" '{"cniVersion":"'"$1"'","name":"net'"${1//./}"'","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
    "dataDir":"'"$PN_TMP"'/data","ranges":'"$2"'}}]}'
}
# in_subnet ADDRESS RANGES FAMILY: ADDRESS lies in the RANGES' subnet of FAMILY
# (4|6), by Python's ipaddress, not by podnet's code.
in_subnet() {
  local subnet
  subnet=$(jq -r --arg f "$3" '.[][].subnet | select(contains(":") == ($f == "6"))' <<<"$2")
  python3 -c 'import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' \
    "$1" "$subnet"
}
v4='[[{"subnet":"10.10.0.0/24"}]]'
v6='[[{"subnet":"fd10::/64"}]]'
dual='[[{"subnet":"10.11.0.0/24"}],[{"subnet":"fd11::/64"}]]'

for version in 0.3.1 0.4.0 1.0.0; do
  for fam in v4 v6 dual; do
    conflist "$version" "${!fam}"
    a=$(pn_netns "a")
    b=$(pn_netns "b")
    ra=$(pn_cni "$node" add "net${version//./}" "$a" CNI_CONTAINERID="ctr-$a")
    rb=$(pn_cni "$node" add "net${version//./}" "$b" CNI_CONTAINERID="ctr-$b")
    what="$version/$fam"

    # The Result, in the conflist's version.
    pn_expect_eq "$(jq -r .cniVersion <<<"$ra")" "$version" "$what: result version"
    pn_expect_eq "$(jq -r '.interfaces[1].name' <<<"$ra")" eth0 "$what: pod interface"
    pn_expect_eq "$(jq -r '.interfaces[1].sandbox' <<<"$ra")" "/run/netns/$a" "$what: sandbox"
    if [[ $version == 0.* ]]; then
      jq -e 'all(.ips[]; has("version"))' <<<"$ra" >/dev/null || pn_fail "$what: 0.x ips need version"
    else
      jq -e 'all(.ips[]; has("version") | not)' <<<"$ra" >/dev/null || pn_fail "$what: 1.x ips carry no version"
    fi
    hostveth=$(jq -r '.interfaces[0].name' <<<"$ra")

    # One address per configured family, in its subnet; the kernel agrees with the Result.
    fams=$(jq -r '.[][].subnet | if contains(":") then 6 else 4 end' <<<"${!fam}")
    pn_expect_eq "$(jq '.ips | length' <<<"$ra")" "$(wc -l <<<"$fams")" "$what: addresses in the Result"
    for f in $fams; do
      ipa=$(pn_ip "$ra" $f)
      ipb=$(pn_ip "$rb" $f)
      [ -n "$ipa" ] && [ -n "$ipb" ] || pn_fail "$what: no v$f address in a Result"
      in_subnet "$ipa" "${!fam}" $f || pn_fail "$what: pod address $ipa is not in the configured v$f subnet"
      in_subnet "$ipb" "${!fam}" $f || pn_fail "$what: pod address $ipb is not in the configured v$f subnet"
      pn_expect_eq "$(ip -n "$a" -$f -j addr show dev eth0 scope global | jq -r '.[0].addr_info[0].local')" "$ipa" \
        "$what: pod address v$f"
      ip -n "$a" -$f route show default | grep -q "dev eth0" || pn_fail "$what: no v$f default route in pod"
      ip -n "$node" -$f route show "$ipa" | grep -q "dev $hostveth" || pn_fail "$what: no v$f host route"
      node_ip=192.0.2.10
      [ $f = 6 ] && node_ip=2001:db8::10
      ip netns exec "$a" ping -$f -c 1 -W 2 "$ipb" >/dev/null || pn_fail "$what: pod-to-pod v$f ping"
      ip netns exec "$b" ping -$f -c 1 -W 2 "$ipa" >/dev/null || pn_fail "$what: pod-to-pod v$f ping back"
      ip netns exec "$a" ping -$f -c 1 -W 2 "$node_ip" >/dev/null || pn_fail "$what: pod-to-node v$f ping"
    done
    pn_expect_eq "$(ip -n "$a" -j link show eth0 | jq -r '.[0].operstate')" UP "$what: pod link up"

    if [[ $version != 0.3.1 ]]; then
      pn_cni "$node" check "net${version//./}" "$a" CNI_CONTAINERID="ctr-$a" || pn_fail "$what: CHECK"
      # CHECK notices what changed under it.
      ip -n "$a" route del default 2>/dev/null || ip -n "$a" -6 route del default
      if out=$(pn_cni "$node" check "net${version//./}" "$a" CNI_CONTAINERID="ctr-$a"); then
        pn_fail "$what: CHECK passed with the default route gone"
      fi
      grep -q "is missing in the pod" <<<"$out" || pn_fail "$what: CHECK message: $out"
    fi

    pn_cni "$node" del "net${version//./}" "$a" CNI_CONTAINERID="ctr-$a"
    pn_cni "$node" del "net${version//./}" "$b" CNI_CONTAINERID="ctr-$b"
    pn_cni "$node" del "net${version//./}" "$b" CNI_CONTAINERID="ctr-$b" || pn_fail "$what: second DEL"
    ip -n "$a" link show eth0 >/dev/null 2>&1 && pn_fail "$what: pod eth0 survived DEL"
    pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "$what: node state after DEL"
    pn_pass "$what"
  done
done

# cniVersion 1.1.0: ADD, CHECK (with prevResult), DEL sent straight to the binary.
conf='{"cniVersion":"1.1.0","name":"net110","type":"podnet","ipam":{"type":"podnet-ipam","dataDir":"'"$PN_TMP"'/data","ranges":'"$dual"'}}'
a=$(pn_netns a)
env110=(CNI_CONTAINERID=c110 "CNI_NETNS=/run/netns/$a" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN")
r=$(pn_plugin "$node" "$PODNET_BIN/podnet" "$conf" CNI_COMMAND=ADD "${env110[@]}")
pn_expect_eq "$(jq -r .cniVersion <<<"$r")" 1.1.0 "1.1.0 result version"
pn_expect_eq "$(jq -r '.interfaces[1].mtu' <<<"$r")" 1500 "1.1.0 result carries the pod interface MTU"
pn_expect_eq "$(jq '.ips | length' <<<"$r")" 2 "1.1.0 dual-stack addresses"
for f in 4 6; do
  in_subnet "$(pn_ip "$r" $f)" "$dual" $f || pn_fail "1.1.0: pod address $(pn_ip "$r" $f) is not in the configured v$f subnet"
  pn_expect_eq "$(ip -n "$a" -$f -j addr show dev eth0 scope global | jq -r '.[0].addr_info[0].local')" "$(pn_ip "$r" $f)" \
    "1.1.0: pod address v$f"
done
ip netns exec "$a" ping -c 1 -W 2 192.0.2.10 >/dev/null || pn_fail "1.1.0: pod-to-node ping"
withprev=$(jq -c --argjson prev "$r" '. + {prevResult: $prev}' <<<"$conf")
pn_plugin "$node" "$PODNET_BIN/podnet" "$withprev" CNI_COMMAND=CHECK "${env110[@]}" || pn_fail "1.1.0 CHECK"
pn_plugin "$node" "$PODNET_BIN/podnet" "$withprev" CNI_COMMAND=DEL "${env110[@]}" || pn_fail "1.1.0 DEL"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "1.1.0: node state after DEL"
pn_pass "1.1.0 by direct exec"
