#!/usr/bin/env bash
# "ipMasq": true through the real libcni: the node's nftables ruleset (read
# with nft(8), not podnet's code) holds the masquerade rule and the pod's
# addresses; a host outside the pod subnets sees pod traffic from the node's
# address (both families) while pods see each other unmasqueraded; DEL of the
# last pod, GC, parallel churn and failed ADDs leave the node's ruleset
# exactly as before.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
command -v nft >/dev/null || pn_skip "needs nft(8)"

node=$(pn_node node)
# "outside": a host beyond the node, on 198.51.100.0/24 and 2001:db8:100::/64,
# with no route back to any pod subnet. It counts echo requests by source.
out=$(pn_netns out)
ip -n "$node" link add up0 type veth peer name down0 netns "$out"
ip -n "$node" addr add 198.51.100.1/24 dev up0
ip -n "$node" addr add 2001:db8:100::1/64 dev up0 nodad
ip -n "$out" addr add 198.51.100.2/24 dev down0
ip -n "$out" addr add 2001:db8:100::2/64 dev down0 nodad
ip -n "$node" link set up0 up
ip -n "$out" link set down0 up
ip netns exec "$out" nft -f - <<'EOF'
table inet seen {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 198.51.100.1 icmp type echo-request counter
    ip6 saddr 2001:db8:100::1 icmpv6 type echo-request counter
  }
}
EOF
# counter N: packets of the outside host's Nth counter (0: v4, 1: v6).
counter() {
  ip netns exec "$out" nft -j list chain inet seen input |
    jq "[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets][$1]"
}

ruleset() { ip netns exec "$node" nft list ruleset | grep -v '^$' || true; }
# The node's ruleset without the test's own nothing: podnet is the only writer.
before_rules=$(ruleset)
before=$(pn_state "$node" "$PN_TMP/data")

masqconf() { # NAME RANGES [MASQ]
  pn_conf "$1" '{"cniVersion":"1.0.0","name":"'"$1"'","plugins":[{"type":"podnet","ipMasq":'"${3:-true}"',
    "ipam":{"type":"podnet-ipam","dataDir":"'"$PN_TMP"'/data","ranges":'"$2"'}}]}'
}
masqconf masq '[[{"subnet":"10.50.0.0/24"}],[{"subnet":"fd50::/64"}]]'
masqconf plain '[[{"subnet":"10.51.0.0/24"}]]' false

# 1. Without ipMasq the outside host cannot answer: it has no route back.
p=$(pn_netns plain)
pn_cni "$node" add plain "$p" CNI_CONTAINERID=plain >/dev/null
ip netns exec "$p" ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1 && pn_fail "ping outside worked without ipMasq"
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset with ipMasq false"
pn_cni "$node" del plain "$p" CNI_CONTAINERID=plain
pn_pass "without ipMasq: no rules, and no way back from outside"

# 2. Dual-stack ADD with ipMasq: rule and elements, checked with nft -j.
a=$(pn_netns a)
b=$(pn_netns b)
ra=$(pn_cni "$node" add masq "$a" CNI_CONTAINERID=ma)
rb=$(pn_cni "$node" add masq "$b" CNI_CONTAINERID=mb)
hosta=$(jq -r '.interfaces[0].name' <<<"$ra")
a4=$(pn_ip "$ra" 4)
a6=$(pn_ip "$ra" 6)
b4=$(pn_ip "$rb" 4)
rules=$(ip netns exec "$node" nft -j list ruleset)
chain=$(jq -r '.nftables[] | select(.chain.table == "podnet") | .chain | select(.hook == "postrouting" and .type == "nat") | .name' <<<"$rules")
[ -n "$chain" ] || pn_fail "no nat postrouting chain in table podnet: $rules"
for f in ip ip6; do
  n=$(jq --arg c "$chain" --arg f "$f" '[.nftables[] | select(.rule.chain == $c) | .rule.expr
      | select(.[0].match.left.payload.protocol == $f and .[0].match.left.payload.field == "saddr"
               and .[1].match.op == "!=" and .[1].match.left.payload.field == "daddr"
               and (.[2] | has("masquerade")))] | length' <<<"$rules")
  pn_expect_eq "$n" 1 "$f masquerade rules in $chain"
done
elem() { # ADDRESS: the comment of ADDRESS's element in table podnet, if any
  jq -r --arg a "$1" '.nftables[] | select(.set.table == "podnet") | .set.elem[]? | select(type == "object" and .elem.val == $a) | .elem.comment' <<<"$rules"
}
pn_expect_eq "$(elem "$a4")" "$hosta" "pod a's IPv4 element (comment: its host veth)"
pn_expect_eq "$(elem "$a6")" "$hosta" "pod a's IPv6 element"
local4=$(jq -c '[.nftables[] | select(.set.table == "podnet" and (.set.name | startswith("local4_"))) | .set.elem[]]' <<<"$rules")
grep -q '"addr":"10.50.0.0","len":24' <<<"$local4" || pn_fail "pod subnet not in local4: $local4"
pn_pass "dual-stack ADD: one masquerade rule per family, the pod's addresses in its sets"

# 3. Functional: outside sees the node's address; pods see each other as is.
ip netns exec "$a" ping -c 1 -W 2 198.51.100.2 >/dev/null || pn_fail "v4 ping outside with ipMasq"
ip netns exec "$a" ping -6 -c 1 -W 2 2001:db8:100::2 >/dev/null || pn_fail "v6 ping outside with ipMasq"
pn_expect_eq "$(counter 0)" 1 "v4 echo requests from the node's address at the outside host"
pn_expect_eq "$(counter 1)" 1 "v6 echo requests from the node's address at the outside host"
ip netns exec "$b" nft add table ip seen
ip netns exec "$b" nft add chain ip seen input '{ type filter hook input priority 0; }'
ip netns exec "$b" nft add rule ip seen input ip saddr "$a4" icmp type echo-request counter
ip netns exec "$a" ping -c 1 -W 2 "$b4" >/dev/null || pn_fail "pod-to-pod ping"
pn_expect_eq "$(ip netns exec "$b" nft -j list chain ip seen input | jq '.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets')" 1 \
  "pod b sees pod a's own address"
pn_pass "masqueraded to the outside (v4, v6), not between pods"

# 4. CHECK passes, and fails without the element; DEL of one pod keeps the rules,
# DEL of the last leaves the ruleset as before.
pn_cni "$node" check masq "$a" CNI_CONTAINERID=ma || pn_fail "CHECK"
pods4=$(jq -r '.nftables[] | select(.set.table == "podnet") | .set.name | select(startswith("pods4_"))' <<<"$rules")
ip netns exec "$node" nft delete element inet podnet "$pods4" "{ $a4 }"
if o=$(pn_cni "$node" check masq "$a" CNI_CONTAINERID=ma); then pn_fail "CHECK passed without the masquerade element"; fi
grep -q "masquerade element for $a4 is missing" <<<"$o" || pn_fail "CHECK message: $o"
pn_cni "$node" add masq "$a" CNI_CONTAINERID=ma >/dev/null 2>&1 && pn_fail "second ADD of the same attachment succeeded"
pn_cni "$node" del masq "$a" CNI_CONTAINERID=ma
ra=$(pn_cni "$node" add masq "$a" CNI_CONTAINERID=ma)
a4=$(pn_ip "$ra" 4)
pn_cni "$node" check masq "$a" CNI_CONTAINERID=ma || pn_fail "CHECK after re-ADD"
pn_cni "$node" del masq "$a" CNI_CONTAINERID=ma
rules=$(ip netns exec "$node" nft -j list ruleset)
[ -z "$(elem "$a4")" ] || pn_fail "pod a's element survived its DEL"
[ -n "$(elem "$b4")" ] || pn_fail "pod b's element went with pod a's DEL"
pn_cni "$node" del masq "$b" CNI_CONTAINERID=mb
pn_cni "$node" del masq "$b" CNI_CONTAINERID=mb || pn_fail "second DEL"
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset after the last DEL"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after the last DEL"
pn_pass "CHECK notices a missing element; DEL removes the pod's elements; the last DEL removes everything"

# 5. 20 pods, 8 at a time: 10 added; then those 10 deleted while 10 more are
# added (a DEL emptying the network races ADDs refilling it); then the rest.
N=20
pods=()
for i in $(seq 0 $((N - 1))); do pods+=("$(pn_netns "c$i")"); done
run() { # VERB INDEX
  pn_cni "$node" "$1" masq "${pods[$2]}" CNI_CONTAINERID="churn-$2" >"$PN_TMP/out.$1.$2" 2>&1 ||
    echo "$1 $2: $(cat "$PN_TMP/out.$1.$2")" >>"$PN_TMP/errors"
}
batch() { # "VERB INDEX"...
  local k=0 job pids=()
  for job in "$@"; do
    run $job &
    pids+=($!)
    pn_track $!
    k=$((k + 1))
    ((k % 8 == 0)) && wait
  done
  wait
  pn_untrack "${pids[@]}"
  [ ! -s "$PN_TMP/errors" ] || pn_fail "$(cat "$PN_TMP/errors")"
}
elements() { ip netns exec "$node" nft -j list ruleset | jq -r '.nftables[] | select(.set.table == "podnet") | .set.elem[]? | select(type == "object" and has("elem")) | .elem.val' | sort; }
ips_of() { for i in "$@"; do jq -r '.ips[].address | split("/")[0]' "$PN_TMP/out.add.$i"; done | sort; }
jobs=()
for i in $(seq 0 9); do jobs+=("add $i"); done
batch "${jobs[@]}"
jobs=()
for i in $(seq 0 9); do jobs+=("del $i" "add $((i + 10))"); done
batch "${jobs[@]}"
pn_expect_eq "$(elements)" "$(ips_of $(seq 10 19))" "elements after racing DELs and ADDs"
ip netns exec "${pods[15]}" ping -c 1 -W 2 198.51.100.2 >/dev/null || pn_fail "pod 15 cannot reach outside"
jobs=()
for i in $(seq 10 19); do jobs+=("del $i"); done
batch "${jobs[@]}"
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset after $N pods in parallel"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after $N pods in parallel"
pn_pass "$N pods added and deleted in parallel, racing: elements exact, then nothing left"

# 6. GC: the invalid attachment's elements go, the valid one's stay.
g1=$(pn_netns g1)
g2=$(pn_netns g2)
rg1=$(pn_cni "$node" add masq "$g1" CNI_CONTAINERID=g1)
pn_cni "$node" add masq "$g2" CNI_CONTAINERID=g2 >/dev/null
gconf=$(jq -c '.plugins[0] + {cniVersion: "1.1.0", name} + {"cni.dev/valid-attachments":[{"containerID":"g1","ifname":"eth0"}]}' \
  "$PN_TMP/net.d/masq.conflist")
pn_plugin "$node" "$PODNET_BIN/podnet" "$gconf" CNI_COMMAND=GC CNI_PATH="$PODNET_BIN" || pn_fail "GC failed"
pn_expect_eq "$(elements)" "$(jq -r '.ips[].address | split("/")[0]' <<<"$rg1" | sort)" "elements after GC"
gconf=$(jq -c '.["cni.dev/valid-attachments"] = []' <<<"$gconf")
pn_plugin "$node" "$PODNET_BIN/podnet" "$gconf" CNI_COMMAND=GC CNI_PATH="$PODNET_BIN" || pn_fail "second GC failed"
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset after GC of every attachment"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after GC of every attachment"
pn_pass "GC removes the elements of invalid attachments, and the rules with the last"

# 7. A failed ADD leaves nothing: an exhausted range, then a failing nft step.
masqconf tiny '[[{"subnet":"10.52.0.0/30"}]]'
t1=$(pn_netns t1)
pn_cni "$node" add tiny "$t1" CNI_CONTAINERID=t1 >/dev/null
full_rules=$(ruleset)
full=$(pn_state "$node" "$PN_TMP/data")
t2=$(pn_netns t2)
if o=$(pn_cni "$node" add tiny "$t2" CNI_CONTAINERID=t2); then pn_fail "ADD into a full range succeeded"; fi
pn_expect_eq "$(ruleset)" "$full_rules" "ruleset after an exhausted ADD"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$full" "node after an exhausted ADD"
pn_cni "$node" del tiny "$t1" CNI_CONTAINERID=t1
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset after DEL of the tiny network's pod"
# A set of the wrong type where podnet's pods4 set must be: the nft step
# fails after the veth, routes and lease exist, and all of them are undone.
[ -n "$pods4" ] || pn_fail "no pods4 set name recorded"
ip netns exec "$node" nft add table inet podnet
ip netns exec "$node" nft add set inet podnet "$pods4" '{ type ipv6_addr; }'
blocked_rules=$(ruleset)
t3=$(pn_netns t3)
if o=$(pn_cni "$node" add masq "$t3" CNI_CONTAINERID=t3); then pn_fail "ADD over a conflicting set succeeded"; fi
grep -q nftables <<<"$o" || pn_fail "nft failure message: $o"
ip -n "$t3" link show eth0 >/dev/null 2>&1 && pn_fail "failed nft step left eth0 in the pod"
pn_expect_eq "$(ruleset)" "$blocked_rules" "ruleset after a failed nft step"
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after a failed nft step"
ip netns exec "$node" nft delete table inet podnet
pn_expect_eq "$(ruleset)" "$before_rules" "ruleset at the end"
pn_pass "failed ADDs (exhausted range, nft step) leave nothing"
