#!/usr/bin/env bash
# A failed ADD leaves nothing behind (no link, route, address or lease), and
# DEL succeeds whatever is already gone.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
pn_conf tiny '{"cniVersion":"1.0.0","name":"tiny","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.20.0.0/29"}]]}}]}'
before=$(pn_state "$node" "$PN_TMP/data")

# A /29 holds 5 pods (.2-.6; .1 is the gateway, .7 broadcast); the 6th ADD fails.
pods=()
for i in 1 2 3 4 5; do
  p=$(pn_netns "p$i")
  pods+=("$p")
  pn_cni "$node" add tiny "$p" CNI_CONTAINERID="c$i" >/dev/null
done
full=$(pn_state "$node" "$PN_TMP/data")
extra=$(pn_netns extra)
if out=$(pn_cni "$node" add tiny "$extra" CNI_CONTAINERID=c6); then pn_fail "ADD into a full range succeeded"; fi
grep -qi "10.20.0" <<<"$out" || pn_fail "exhaustion error does not name the range: $out"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$full" "node after an exhausted ADD"
ip -n "$extra" link show eth0 >/dev/null 2>&1 && pn_fail "exhausted ADD left eth0 in the pod"
pn_pass "exhausted range: clear error, nothing changed"

# An interface name already taken in the pod: refused before anything changes.
for i in 1 2 3 4 5; do pn_cni "$node" del tiny "${pods[$((i - 1))]}" CNI_CONTAINERID="c$i"; done
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after deleting all"
taken=$(pn_netns taken)
ip -n "$taken" link add eth0 type bridge
if out=$(pn_cni "$node" add tiny "$taken" CNI_CONTAINERID=ct); then pn_fail "ADD over an existing eth0 succeeded"; fi
pn_expect_eq "$(jq -r .code <<<"$out")" 4 "code for an interface name taken in the pod"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after ADD over a taken name"
pn_pass "interface name taken in the pod: code 4, nothing changed"

# The same attachment added again into another pod: its host veth name is
# taken in the node. Code 4, and the first ADD's veth and lease stay as they are.
first=$(pn_netns first)
pn_cni "$node" add tiny "$first" CNI_CONTAINERID=again >/dev/null
added=$(pn_state "$node" "$PN_TMP/data")
second=$(pn_netns second)
if out=$(pn_cni "$node" add tiny "$second" CNI_CONTAINERID=again); then pn_fail "a second ADD of one attachment succeeded"; fi
pn_expect_eq "$(jq -r .code <<<"$out")" 4 "code for a host veth name taken in the node"
grep -q "run DEL first" <<<"$out" || pn_fail "the error does not say what to do: $out"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$added" "node after the second ADD"
ip -n "$second" link show eth0 >/dev/null 2>&1 && pn_fail "the refused ADD left eth0 in the second pod"
pn_cni "$node" del tiny "$first" CNI_CONTAINERID=again
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after DEL of the first"
pn_pass "host veth name taken in the node: code 4, nothing changed"

# A failure after the veth exists is undone fully: the same route twice in
# IPAM's routes makes the pod's second route insert fail (EEXIST) after the
# veth, the addresses and the lease are in place.
pn_conf dup '{"cniVersion":"1.0.0","name":"dup","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.21.0.0/29"}]],
  "routes":[{"dst":"10.30.0.0/16"},{"dst":"10.30.0.0/16"}]}}]}'
clash=$(pn_netns clash)
if out=$(pn_cni "$node" add dup "$clash" CNI_CONTAINERID=cc); then pn_fail "ADD with a duplicate route succeeded"; fi
grep -q "File exists" <<<"$out" || pn_fail "mid-ADD failure message: $out"
ip -n "$clash" link show eth0 >/dev/null 2>&1 && pn_fail "mid-ADD failure left eth0 in the pod"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after a mid-ADD failure"
pn_pass "mid-ADD failure undone"

# DEL with the netns gone, DEL of something never added, DEL twice.
gone=$(pn_netns gone)
pn_cni "$node" add tiny "$gone" CNI_CONTAINERID=cg >/dev/null
ip netns delete "$gone"
pn_cni "$node" del tiny "$gone" CNI_CONTAINERID=cg || pn_fail "DEL with the netns gone"
pn_cni "$node" del tiny "$gone" CNI_CONTAINERID=cg || pn_fail "second DEL"
pn_cni "$node" del tiny "$gone" CNI_CONTAINERID=never-added || pn_fail "DEL of an unknown attachment"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after DEL with the netns gone"
pn_pass "DEL with the netns gone, twice, and of an unknown container"

# Bad netns: a regular file, a directory, and the plugin's own namespace.
touch "$PN_TMP/notns"
mkdir -p "$PN_TMP/dirns"
conf=$(jq -c '.plugins[0] + {cniVersion, name}' "$PN_TMP/net.d/tiny.conflist")
for ns in "$PN_TMP/notns" "$PN_TMP/dirns" /proc/self/ns/net /nonexistent/ns; do
  rc=0
  out=$(pn_plugin "$node" "$PODNET_BIN/podnet" "$conf" CNI_COMMAND=ADD CNI_CONTAINERID=cx CNI_NETNS="$ns" \
    CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN" 2>/dev/null) || rc=$?
  [ "$rc" = 1 ] || pn_fail "ADD into netns $ns: exit status $rc, want 1"
  code=$(jq -r .code <<<"$out")
  [ "$code" = 8 ] || pn_fail "netns $ns: code $code, want 8 (libcni's ErrInvalidNetNS): $out"
done
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after bad netns paths"
pn_pass "bad netns paths refused, nothing changed"

# An IPAM type that is not installed: code 7, nothing changed.
pn_conf noipam '{"cniVersion":"1.0.0","name":"noipam","plugins":[{"type":"podnet","ipam":{"type":"no-such-ipam"}}]}'
p=$(pn_netns noipam)
out=$(pn_cni "$node" add noipam "$p" CNI_CONTAINERID=cn) && pn_fail "ADD with an unknown IPAM type succeeded"
pn_expect_eq "$(jq -r .code <<<"$out")" 7 "code for an unknown IPAM type"
grep -q "no-such-ipam" <<<"$out" || pn_fail "error does not name the IPAM type: $out"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after an unknown IPAM type"
pn_pass "unknown IPAM type: code 7, nothing changed"
