#!/usr/bin/env bash
# 100 Pods (dual-stack) added and deleted, 8 at a time, leave the node exactly
# as before: links, addresses, routes and leases.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
pn_conf churn '{"cniVersion":"1.0.0","name":"churn","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$PN_TMP"'/data","ranges":[[{"subnet":"10.40.0.0/24"}],[{"subnet":"fd40::/64"}]]}}]}'
before=$(pn_state "$node" "$PN_TMP/data")
N=100
pods=()
for i in $(seq 1 $N); do pods+=("$(pn_netns "c$i")"); done

run() { # VERB INDEX
  pn_cni "$node" "$1" churn "${pods[$2]}" CNI_CONTAINERID="churn-$2" >"$PN_TMP/out.$1.$2" 2>&1 ||
    { echo "$1 $2: $(cat "$PN_TMP/out.$1.$2")" >>"$PN_TMP/errors"; }
}
for verb in add del; do
  for i in $(seq 0 $((N - 1))); do
    run $verb "$i" &
    (((i + 1) % 8 == 0)) && wait
  done
  wait
  [ ! -s "$PN_TMP/errors" ] || pn_fail "$(cat "$PN_TMP/errors")"
  if [ $verb = add ]; then
    pn_expect_eq "$(ip -n "$node" -o link show type veth | wc -l)" $N "host veths after $N ADDs"
    addrs=$(cat "$PN_TMP"/out.add.* | jq -r '.ips[].address' | sort -u | wc -l)
    pn_expect_eq "$addrs" $((2 * N)) "distinct pod addresses"
    pn_expect_eq "$(ip -n "$node" route | grep -c "^10\.40\.0\.")" $N "IPv4 host routes"
  fi
done
pn_expect_eq "$(pn_state "$node" "$PN_TMP/data")" "$before" "node after $N ADD+DEL"
pn_pass "$N dual-stack pods added and deleted, node exactly as before"
