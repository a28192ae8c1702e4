#!/usr/bin/env bash
# Many processes at once on one store: CONC_ADDS ADDs (default 64) from 16
# parallel workers give as many distinct addresses, each lease naming its own
# container; concurrent DEL (of the odd half) and ADD (of half as many new)
# lose nothing; a kill -9 at random instants of a storm of CONC_STORM ADDs
# (default 48) leaves a consistent store. The defaults size the test command;
# soak runs set more (at most 340 ADDs: the /23 must hold 1.5 x CONC_ADDS).
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
N=${CONC_ADDS:-64}
N=$((N / 2 * 2))
STORM=${CONC_STORM:-48}

node=$(pn_node node)
data="$PN_TMP/data"
conf='{"cniVersion":"1.0.0","name":"conc","type":"ptp","ipam":{"type":"podnet-ipam","dataDir":"'"$data"'","subnet":"10.70.0.0/23"}}'
export node conf PODNET_BIN PN_TMP
export -f pn_plugin

# add ID: one ADD, prints "ID ADDRESS" (or "ID ERROR <json>").
add() {
  local out
  out=$(pn_plugin "$node" "$PODNET_BIN/podnet-ipam" "$conf" CNI_COMMAND=ADD CNI_CONTAINERID="$1" \
    CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN" 2>/dev/null) &&
    echo "$1 $(jq -r '.ips[0].address' <<<"$out")" || echo "$1 ERROR $(tr -d '\n' <<<"$out")"
}
del() {
  pn_plugin "$node" "$PODNET_BIN/podnet-ipam" "$conf" CNI_COMMAND=DEL CNI_CONTAINERID="$1" \
    CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN" >/dev/null 2>&1 || echo "$1 DEL-ERROR"
}
export -f add del

# check_store: every lease file is "<id>\r\neth0" and no container holds two.
check_store() {
  local f
  for f in "$data/conc"/10.*; do
    [[ "$(<"$f")" =~ ^c[0-9]+$'\r\n'eth0$ ]] || pn_fail "bad lease $f"
  done
  local dups
  dups=$(for f in "$data/conc"/10.*; do head -c 64 "$f" | head -n1 | tr -d '\r'; echo; done | sort | uniq -d)
  [ -z "$dups" ] || pn_fail "containers holding two leases: $dups"
  [ -z "$(ls -A "$data/conc/.podnet-tmp")" ] || pn_fail "temporary files left"
}

seq 1 $N | sed 's/^/c/' | xargs -P16 -I{} bash -c 'add {}' >"$PN_TMP/adds"
grep -q ERROR "$PN_TMP/adds" && pn_fail "ADD failed: $(grep ERROR "$PN_TMP/adds" | head -3)"
pn_expect_eq "$(wc -l <"$PN_TMP/adds")" $N "ADD answers"
pn_expect_eq "$(awk '{print $2}' "$PN_TMP/adds" | sort -u | wc -l)" $N "distinct addresses"
pn_expect_eq "$(ls "$data/conc" | grep -c '^10\.')" $N "lease files"
while read -r id a; do
  pn_expect_eq "$(head -n1 "$data/conc/${a%/*}" | tr -d '\r')" "$id" "lease file of $a"
done <"$PN_TMP/adds"
check_store
pn_pass "$N ADDs from 16 parallel processes: $N distinct addresses, each lease its own"

# DEL the odd half while N/2 new containers ADD, all at once.
{
  seq 1 2 $N | sed 's/^/del c/'
  seq $((N + 1)) $((N + N / 2)) | sed 's/^/add c/'
} | shuf | xargs -P16 -I{} bash -c '{}' >"$PN_TMP/mixed"
grep -q ERROR "$PN_TMP/mixed" && pn_fail "mixed run failed: $(grep ERROR "$PN_TMP/mixed" | head -3)"
pn_expect_eq "$(ls "$data/conc" | grep -c '^10\.')" $N "leases after $((N / 2)) DEL + $((N / 2)) ADD"
for i in $(seq 2 2 $N); do
  grep -q "^c$i " "$PN_TMP/adds"
  a=$(awk -v id="c$i" '$1==id {print $2}' "$PN_TMP/adds")
  pn_expect_eq "$(head -n1 "$data/conc/${a%/*}" | tr -d '\r')" "c$i" "surviving lease of c$i"
done
# An address given again must have been released: its first owner was odd.
while read -r id a; do
  first=$(awk -v a="$a" '$2==a {print $1}' "$PN_TMP/adds")
  [ -z "$first" ] || [ $((${first#c} % 2)) -eq 1 ] || pn_fail "$a given to $id while $first held it"
done <"$PN_TMP/mixed"
check_store
pn_pass "concurrent DEL and ADD: no lease lost, none shared"

# kill -9 at random instants of a parallel ADD storm, then retry as a runtime would.
rm -rf "$data"
# The storm runs in a session (and process group) of its own, led by $storm.
# Cleanup signals $storm only: on SIGTERM it kills its whole process group
# (xargs, its workers and their podnet-ipam), by the group's ID, which is its own PID.
# shellcheck disable=SC2016
setsid bash -c 'trap "kill -KILL -- -\$\$" TERM
  seq 1 '"$STORM"' | sed "s/^/c/" | xargs -P8 -I{} bash -c "add {}" &
  wait $!' >/dev/null 2>&1 &
storm=$!  # a session leader: its session is exactly the storm
pn_track "$storm"
killed=0
for _ in 1 2 3 4 5 6; do
  sleep 0.$((RANDOM % 3 + 1))
  # Only processes of the storm's own session, by PID.
  for p in $(ps -o pid=,comm= -s "$storm" | awk '$2=="podnet-ipam" {print $1}'); do
    kill -9 "$p" 2>/dev/null && killed=$((killed + 1))
  done
done
wait "$storm" 2>/dev/null || true
pn_untrack "$storm"
echo "killed $killed podnet-ipam processes mid-ADD; $(ls "$data/conc" | grep -c '^10\.') leases written"
[ "$killed" -gt 0 ] || pn_fail "the storm was never interrupted"
check_store
seq 1 "$STORM" | sed 's/^/c/' | xargs -P16 -I{} bash -c 'add {}' >"$PN_TMP/retry"
grep -q ERROR "$PN_TMP/retry" && pn_fail "retry failed: $(grep ERROR "$PN_TMP/retry" | head -3)"
pn_expect_eq "$(awk '{print $2}' "$PN_TMP/retry" | sort -u | wc -l)" "$STORM" "distinct addresses after kill -9 and retry"
while read -r id a; do
  pn_expect_eq "$(head -n1 "$data/conc/${a%/*}" | tr -d '\r')" "$id" "lease of $id after retry"
done <"$PN_TMP/retry"
check_store
pn_expect_eq "$(ls "$data/conc" | grep -c '^10\.')" "$STORM" "no orphan lease after kill -9 + retry"
pn_pass "kill -9 during ADDs: store consistent, retries idempotent, nothing orphaned"
