#!/usr/bin/env bash
# podnetd --portmap: the conflist it writes chains the reference portmap after
# podnet (a node without the flag keeps podnet alone), so a Pod added through
# libcni with a portMappings capability arg (what kubelet sends for a hostPort
# and podman for -p) answers on its node's address from another node (IPv4 and
# IPv6, client address kept), on the node's 127.0.0.1 and to itself (hairpin;
# both need portmap's snat). DEL removes the Pod's portmap chains and leaves
# the node as it was.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
[ -x "$REF_CNI/portmap" ] || pn_fail "the reference portmap is missing in $REF_CNI (scripts/deps.sh)"

u=$(pn_underlay)
n1=$(pn_cluster_node "$u" 1)
n2=$(pn_cluster_node "$u" 2)
pn_cluster_write "$(pn_cluster_json 1 2)"
pn_podnetd "$n1" 1 --portmap
pn_podnetd "$n2" 2
pn_wait_ready "$n1"
pn_wait_ready "$n2"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2)"
pn_wait_routes "$n2" "$(pn_expected_routes 2 1 2)"

# The conflists: portmap chained on node1 only.
conf1="$PN_TMP/node1/net.d/10-podnet.conflist"
conf2="$PN_TMP/node2/net.d/10-podnet.conflist"
pn_expect_eq "$(jq -c '[.plugins[].type]' "$conf1")" '["podnet","portmap"]' "node1's plugins (--portmap)"
pn_expect_eq "$(jq -c '.plugins[1]' "$conf1")" '{"type":"portmap","capabilities":{"portMappings":true},"snat":true}' \
  "node1's portmap entry"
pn_expect_eq "$(jq -c '[.plugins[].type]' "$conf2")" '["podnet"]' "node2's plugins (no --portmap)"
pn_pass "--portmap chains portmap after podnet in the conflist; without it podnet stands alone"

nat() { ip netns exec "$n1" "$1" -t nat; } # nat iptables-save|ip6tables-save: node1's nat rules
leases="$PN_TMP/node1/leases"
before=$(pn_state "$n1" "$leases")

# A dual-stack Pod on node1 with hostPort 8080 -> 80, serving a file.
pod=$(pn_netns pod1)
ctr="ctr-$pod" # pn_cni_node's container ID
export CAP_ARGS='{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'
res=$(pn_cni_node "$n1" 1 add "$pod")
ip4=$(pn_ip "$res" 4)
ip6=$(pn_ip "$res" 6)
[[ $ip4 == 10.244.1.* && $ip6 == fd00:10:244:1:* ]] || pn_fail "pod addresses: $ip4 $ip6"
mkdir -p "$PN_TMP/www"
echo "hello from the pod" >"$PN_TMP/www/index.html"
ip netns exec "$pod" python3 -m http.server 80 --bind :: --directory "$PN_TMP/www" \
  </dev/null >"$PN_TMP/http.log" 2>&1 &
pn_track $!
deadline=$((SECONDS + PN_DEADLINE))
until ip netns exec "$pod" ss -Hltn 'sport = :80' | grep -q .; do
  [ $SECONDS -lt $deadline ] || pn_fail "the Pod's server never listened"
  sleep 0.05
done

# portmap's per-container DNAT chain, in both families.
# (Saved first: grep -q closing the pipe early would fail the pipeline.)
v4=$(nat iptables-save)
v6=$(nat ip6tables-save)
grep -qF "$ctr" <<<"$v4" || pn_fail "iptables: no portmap rule for $ctr"
grep -qF "$ctr" <<<"$v6" || pn_fail "ip6tables: no portmap rule for $ctr"
dn4=$(grep -- "-j DNAT --to-destination $ip4:80" <<<"$v4" | awk '{print $2}')
dn6=$(grep -- "-j DNAT --to-destination \[$ip6\]:80" <<<"$v6" | awk '{print $2}')
[[ $dn4 == CNI-DN-* && $dn6 == CNI-DN-* ]] || pn_fail "portmap DNAT chains: '$dn4' '$dn6'"

get() { # NODE URL: the body, or fail
  ip netns exec "$1" curl -sf --max-time 20 "$2" || pn_fail "GET $2 from $1: no answer"
}
pn_expect_eq "$(get "$n2" http://192.168.77.11:8080/)" "hello from the pod" "node2 -> node1:8080 (IPv4)"
pn_expect_eq "$(get "$n2" "http://[fd77::11]:8080/")" "hello from the pod" "node2 -> node1:8080 (IPv6)"
# Remote clients are not masqueraded: the Pod sees node2's addresses.
grep -q '192\.168\.77\.12 .*"GET / ' "$PN_TMP/http.log" || pn_fail "the Pod did not see node2's IPv4 address"
grep -q 'fd77::12 .*"GET / ' "$PN_TMP/http.log" || pn_fail "the Pod did not see node2's IPv6 address"
pn_pass "hostPort 8080 on node1 reaches the Pod's port 80 from node2 (IPv4, IPv6), client address kept"

pn_expect_eq "$(get "$n1" http://127.0.0.1:8080/)" "hello from the pod" "node1's 127.0.0.1:8080"
pn_expect_eq "$(get "$pod" http://192.168.77.11:8080/)" "hello from the pod" "hairpin: Pod -> node1:8080"
pn_pass "snat: the hostPort answers on the node's 127.0.0.1 and to the Pod itself (hairpin)"

# DEL (with the same capability args, as runtimes send) removes the Pod's chains.
pn_cni_node "$n1" 1 del "$pod" >/dev/null
v4=$(nat iptables-save)
v6=$(nat ip6tables-save)
grep -q "$ctr" <<<"$v4$v6" && pn_fail "portmap rules of $ctr survived DEL"
grep -q -e "$dn4" <<<"$v4" && pn_fail "chain $dn4 survived DEL"
grep -q -e "$dn6" <<<"$v6" && pn_fail "chain $dn6 survived DEL"
grep -q -e "$ip4" -e "$ip6" <<<"$v4$v6" && pn_fail "a nat rule still names the Pod's address"
pn_expect_eq "$(grep -o '^:CNI-[^ ]*' <<<"$v4" | tr -d : | sort | tr '\n' ' ')" \
  "CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK " "portmap's chains left after DEL (shared only)"
pn_expect_eq "$(pn_state "$n1" "$leases")" "$before" "node1 after DEL"
ip netns exec "$n2" curl -sf --max-time 1 http://192.168.77.11:8080/ >/dev/null 2>&1 &&
  pn_fail "hostPort still answers after DEL"
pn_pass "DEL removes the Pod's portmap chains; node1 is as before the Pod"
