#!/usr/bin/env bash
# Churn through the real libcni client, in two parts.
#
# 1. CHURN_PODS dual-stack Pods (default 24) added 8 at a time, all alive
#    together (distinct addresses), then deleted: the node is exactly as before.
# 2. CHURN_CYCLES ADD+DEL cycles (default 96) from CHURN_PARALLEL callers
#    (default 16), alternating between an IPv4 and a dual-stack network whose
#    small ranges (/27, 29 addresses each; at most 16 held at once) make
#    addresses come round again and again, also with the defaults. Every ADD's
#    addresses are logged with the time ADD returned and the time DEL was
#    called: no address may be held by two attachments whose lifetimes
#    overlap. Each caller leaves one Pod alive at the end: the node then holds
#    exactly those Pods' links, host routes and leases, and after their DELs it
#    is exactly as before. The defaults size the test command; soak runs set
#    the knobs higher (e.g. CHURN_PODS=100 CHURN_CYCLES=20000).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

CYCLES=${CHURN_CYCLES:-96}
P=${CHURN_PARALLEL:-16}
N=${CHURN_PODS:-24}

DATA="$PN_TMP/data"
node=$(pn_node node)
pn_conf churn '{"cniVersion":"1.0.0","name":"churn","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$DATA"'","ranges":[[{"subnet":"10.40.0.0/24"}],[{"subnet":"fd40::/64"}]]}}]}'
pn_conf churn4 '{"cniVersion":"1.0.0","name":"churn4","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$DATA"'","ranges":[[{"subnet":"10.41.0.0/27"}]]}}]}'
pn_conf churn46 '{"cniVersion":"0.4.0","name":"churn46","plugins":[{"type":"podnet","ipam":{"type":"podnet-ipam",
  "dataDir":"'"$DATA"'","ranges":[[{"subnet":"10.42.0.0/27"}],[{"subnet":"fd42::/123"}]]}}]}'
before=$(pn_state "$node" "$DATA")

if [ "${CHURN_SKIP_BASIC:-0}" != 1 ]; then
  pods=()
  for i in $(seq 1 $N); do pods+=("$(pn_netns "c$i")"); done
  run() { # VERB INDEX
    pn_cni "$node" "$1" churn "${pods[$2]}" CNI_CONTAINERID="churn-$2" >"$PN_TMP/out.$1.$2" 2>&1 ||
      { echo "$1 $2: $(cat "$PN_TMP/out.$1.$2")" >>"$PN_TMP/errors"; }
  }
  for verb in add del; do
    jobs=()
    for i in $(seq 0 $((N - 1))); do
      run $verb "$i" &
      jobs+=($!)
      pn_track $!
      if (((i + 1) % 8 == 0)); then
        wait
        pn_untrack "${jobs[@]}"
        jobs=()
      fi
    done
    wait
    [ ${#jobs[@]} = 0 ] || pn_untrack "${jobs[@]}"
    [ ! -s "$PN_TMP/errors" ] || pn_fail "$(cat "$PN_TMP/errors")"
    if [ $verb = add ]; then
      pn_expect_eq "$(ip -n "$node" -o link show type veth 2>/dev/null | wc -l)" $N "host veths after $N ADDs"
      addrs=$(cat "$PN_TMP"/out.add.* | jq -r '.ips[].address' | sort -u | wc -l)
      pn_expect_eq "$addrs" $((2 * N)) "distinct pod addresses"
      pn_expect_eq "$(ip -n "$node" route | grep -c "^10\.40\.0\.")" $N "IPv4 host routes"
    fi
  done
  pn_expect_eq "$(pn_state "$node" "$DATA")" "$before" "node after $N ADD+DEL"
  pn_pass "$N dual-stack pods added and deleted, node exactly as before"
  for p in "${pods[@]}"; do ip netns delete "$p"; done
fi

# Part 2. Caller W uses its own Pod namespace; cycle C of caller W is the
# attachment "w<W>-c<C>" on network churn4 or churn46 (by parity, so both are
# busy at every moment). Log lines: ADDRESS ADD_RETURNED DEL_CALLED ID, where
# DEL_CALLED is "live" for the Pod left alive.
cpods=()
for w in $(seq 0 $((P - 1))); do cpods+=("$(pn_netns "w$w")"); done
# A caller runs inside the node namespace and calls the libcni client directly.
worker() { # W CYCLES POD
  local w=$1 n=$2 pod=$3 c net id out t1 t2 ips veth ip
  for c in $(seq 1 "$n"); do
    net=churn4
    (((w + c) % 2 == 0)) && net=churn46
    id="w$w-c$c"
    out=$(CNI_CONTAINERID="$id" "$CNITOOL" add "$net" "/run/netns/$pod" 2>&1) ||
      { echo "ADD $id: $out" >>"$PN_TMP/errors"; return; }
    t1=$EPOCHREALTIME
    ips=$(jq -r '"\(.interfaces[0].name) \(.ips[].address)"' <<<"$out")
    t2=live
    [ "$c" = "$n" ] || t2=$EPOCHREALTIME
    while read -r veth ip; do
      echo "${ip%/*} ${t1/./} ${t2/./} $net $id $veth" >>"$PN_TMP/log.$w"
    done <<<"$ips"
    [ "$c" = "$n" ] && break
    out=$(CNI_CONTAINERID="$id" "$CNITOOL" del "$net" "/run/netns/$pod" 2>&1) ||
      { echo "DEL $id: $out" >>"$PN_TMP/errors"; return; }
  done
}
per=$(((CYCLES + P - 1) / P))
start=$SECONDS
workers=()
for w in $(seq 0 $((P - 1))); do
  ip netns exec "$node" env NETCONFPATH="$PN_TMP/net.d" CNI_PATH="$PODNET_BIN:$REF_CNI" \
    CNI_CACHE_DIR="$PN_TMP/cache" PN_TMP="$PN_TMP" CNITOOL="$CNITOOL" \
    bash -c "set -u; $(declare -f worker); worker $w $per ${cpods[$w]}" &
  workers+=($!)
  pn_track $!
done
wait
pn_untrack "${workers[@]}"
took=$((SECONDS - start))
[ ! -s "$PN_TMP/errors" ] || pn_fail "$(head -5 "$PN_TMP/errors")"
cat "$PN_TMP"/log.* >"$PN_TMP/log"
total=$((per * P))
adds=$(awk '{print $5}' "$PN_TMP/log" | sort -u | wc -l)
pn_expect_eq "$adds" "$total" "ADDs logged"

# No address held twice at once: per address, lifetimes sorted by start must
# not begin before the furthest end so far.
dups=$(sort -k1,1 -k2,2n "$PN_TMP/log" | awk '
  { from = $2 + 0; to = ($3 == "live") ? 9e18 : $3 + 0 }
  $1 != ip { ip = $1; end = to; who = $5; next }
  from <= end { print "address " ip " given to " $5 " while " who " held it"; n++ }
  to > end { end = to; who = $5 }
  END { exit n > 0 }') || pn_fail "duplicate addresses among live attachments:"$'\n'"$dups"
reuse=$(awk '{print $1}' "$PN_TMP/log" | sort | uniq -c | awk '$1 > 1' | wc -l)
[ "$reuse" -gt 0 ] || pn_fail "no address came round twice in $total cycles: too few to test reuse"

# Exactly the live Pods remain: their host veths, host routes, leases, and
# each Pod's eth0 with its address.
live=$(awk '$3 == "live"' "$PN_TMP/log")
pn_expect_eq "$(ip -n "$node" -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)" \
  "$(awk '{print $6}' <<<"$live" | sort -u)" "host veths with $P Pods alive"
pn_expect_eq "$({ ip -n "$node" -4 route show; ip -n "$node" -6 route show; } | awk '/ dev pn/ && !/proto kernel/ && $1 !~ /^fe80/ {print $1}' | sort)" \
  "$(awk '{print $1}' <<<"$live" | sort)" "host routes with $P Pods alive"
pn_expect_eq "$(cd "$DATA" && find churn4 churn46 -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip*' | sort)" \
  "$(awk '{print $4 "/" $1}' <<<"$live" | sort)" "lease files with $P Pods alive"
while read -r ip _ _ net id _; do
  [ "$(printf '%s\r\n%s' "$id" eth0)" = "$(cat "$DATA/$net/$ip")" ] || pn_fail "lease $net/$ip is not $id's"
done <<<"$live"
# State is private: directories 0700, lease files 0600.
modes=$(find "$DATA" ! -type l -printf '%y %m %P\n' | awk '($1 == "d" && $2 != 700) || ($1 == "f" && $2 != 600)')
[ -z "$modes" ] || pn_fail "state with other modes than 0700/0600:"$'\n'"$modes"
for w in $(seq 0 $((P - 1))); do
  got=$(ip -n "${cpods[$w]}" -o addr show dev eth0 scope global | awk '{print $4}' | sed 's|/.*||' | sort)
  pn_expect_eq "$got" "$(awk -v id="w$w-c$per" '$5 == id {print $1}' <<<"$live" | sort)" "addresses in pod $w"
done
pn_pass "$total ADD+DEL cycles, $P callers, ${took}s: $P live Pods hold exactly their links, routes and leases; $reuse addresses reused, none twice at once"

while read -r _ _ _ net id _; do
  w=${id%%-*}
  pn_cni "$node" del "$net" "${cpods[${w#w}]}" CNI_CONTAINERID="$id" || pn_fail "DEL $id"
done < <(awk '$3 == "live"' "$PN_TMP/log" | sort -u -k5,5)
pn_expect_eq "$(pn_state "$node" "$DATA")" "$before" "node after the churn"
for w in $(seq 0 $((P - 1))); do
  pn_expect_eq "$(ip -n "${cpods[$w]}" -o link show | awk -F': ' '{print $2}')" lo "links left in pod $w"
done
pn_pass "churn: $total cycles ($((total / (took > 0 ? took : 1)))/s), node exactly as before, 0 leaked, 0 duplicated"
