#!/usr/bin/env bash
# One dataDir, two allocators: leases the reference host-local wrote are read,
# honoured and extended by podnet-ipam, and the reverse, for IPv4 and IPv6.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
data="$PN_TMP/data"
ipam_conf() {
  echo '{"cniVersion":"1.0.0","name":"shared","type":"ptp","ipam":{"type":"'"$1"'","dataDir":"'"$data"'",
    "ranges":[[{"subnet":"10.85.0.0/24","rangeEnd":"10.85.0.20"}],[{"subnet":"fd85::/120"}]]}}'
}
# run PLUGIN VERB ID [env...]: prints stdout, returns the exit code.
run() {
  local bin=$1 verb=$2 id=$3
  shift 3
  case $bin in
    host-local) bin=$REF_CNI/host-local ;;
    podnet-ipam) bin=$PODNET_BIN/podnet-ipam ;;
  esac
  pn_plugin "$node" "$bin" "$(ipam_conf "$(basename "$bin")")" CNI_COMMAND="$verb" CNI_CONTAINERID="$id" \
    CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN:$REF_CNI" "$@" 2>/dev/null
}
v4() { jq -r '.ips[] | select(.address | contains(".")) | .address' <<<"$1"; }
v6() { jq -r '.ips[] | select(.address | contains(":")) | .address' <<<"$1"; }
leases() { ls "$data/shared" | grep -v -e '^lock$' -e '^last_reserved' | sort | tr '\n' ' '; }

# host-local first.
for i in 1 2 3; do run host-local ADD "h$i" >/dev/null || pn_fail "host-local ADD h$i"; done
pn_expect_eq "$(leases)" "10.85.0.2 10.85.0.3 10.85.0.4 fd85::2 fd85::3 fd85::4 " "host-local's leases"

out=$(run podnet-ipam ADD p1)
pn_expect_eq "$(v4 "$out")" "10.85.0.5/24" "podnet-ipam continues after host-local's last_reserved_ip.0"
pn_expect_eq "$(v6 "$out")" "fd85::5/120" "podnet-ipam continues after host-local's last_reserved_ip.1"
out=$(run podnet-ipam ADD h2)
pn_expect_eq "$(v4 "$out") $(v6 "$out")" "10.85.0.3/24 fd85::3/120" "podnet-ipam ADD of a host-local attachment is idempotent"
run podnet-ipam CHECK h1 >/dev/null || pn_fail "podnet-ipam CHECK of a host-local lease"
run podnet-ipam DEL h1 >/dev/null || pn_fail "podnet-ipam DEL of a host-local lease"
pn_expect_eq "$(leases)" "10.85.0.3 10.85.0.4 10.85.0.5 fd85::3 fd85::4 fd85::5 " "after podnet-ipam DEL h1"
pn_pass "podnet-ipam reads, honours and extends host-local's store"

# And the reverse.
out=$(run host-local ADD h4)
pn_expect_eq "$(v4 "$out") $(v6 "$out")" "10.85.0.6/24 fd85::6/120" "host-local continues after podnet-ipam's last_reserved_ip"
run host-local CHECK p1 >/dev/null || pn_fail "host-local CHECK of a podnet-ipam lease"
set +e
out=$(run host-local ADD p1)
set -e
grep -q "duplicate allocation" <<<"$out" || pn_fail "host-local must see p1's podnet-ipam lease: $out"
run host-local DEL p1 >/dev/null || pn_fail "host-local DEL of a podnet-ipam lease"
pn_expect_eq "$(leases)" "10.85.0.3 10.85.0.4 10.85.0.6 fd85::3 fd85::4 fd85::6 " "after host-local DEL p1"
pn_pass "host-local reads, honours and extends podnet-ipam's store"

# An ID-only lease (host-local before 0.7) is seen as taken and released by DEL.
printf 'old-ctr' >"$data/shared/10.85.0.7"
out=$(run podnet-ipam ADD p2)
pn_expect_eq "$(v4 "$out")" "10.85.0.8/24" "an ID-only lease is taken"
run podnet-ipam DEL old-ctr >/dev/null
[ ! -e "$data/shared/10.85.0.7" ] || pn_fail "DEL did not release the ID-only lease"
pn_pass "ID-only leases of old host-local are honoured and released"

# Requested addresses behave alike: both refuse a taken one.
set +e
a=$(run host-local ADD x1 CNI_ARGS=IP=10.85.0.8)
b=$(run podnet-ipam ADD x1 CNI_ARGS=IP=10.85.0.8)
set -e
grep -q "not available" <<<"$a" && grep -q "not available" <<<"$b" || pn_fail "taken requested IP: '$a' / '$b'"
pn_pass "a taken requested address is refused by both"

# A range larger than podnet-ipam's probing (its first 1500+ addresses after
# last_reserved_ip taken, a dangling symlink and an empty file among them; no
# FIFO: host-local would block reading it), written as
# host-local writes it: podnet-ipam falls back to the listing and picks the
# first free address, then both allocators continue in turn, none given twice.
big_conf() {
  echo '{"cniVersion":"1.0.0","name":"big","type":"ptp","ipam":{"type":"'"$1"'","dataDir":"'"$data"'",
    "subnet":"10.86.0.0/21"}}'
}
big() {
  local bin=$1 verb=$2 id=$3
  pn_plugin "$node" "$bin" "$(big_conf "$(basename "$bin")")" CNI_COMMAND="$verb" CNI_CONTAINERID="$id" \
    CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN:$REF_CNI" 2>/dev/null
}
mkdir -p "$data/big"
for i in $(seq 2 1533); do printf 'fill%s\r\neth0' "$i" >"$data/big/10.86.$((i / 256)).$((i % 256))"; done
ln -s /nonexistent "$data/big/10.86.5.254"
: >"$data/big/10.86.5.255"
printf '10.86.7.254' >"$data/big/last_reserved_ip.0"  # the range's end: the walk wraps to its start
out=$(big "$PODNET_BIN/podnet-ipam" ADD b1)
pn_expect_eq "$(v4 "$out")" "10.86.6.0/21" "podnet-ipam past 1534 taken addresses"
out=$(big "$REF_CNI/host-local" ADD b2)
pn_expect_eq "$(v4 "$out")" "10.86.6.1/21" "host-local continues after it"
out=$(big "$PODNET_BIN/podnet-ipam" ADD b3)
pn_expect_eq "$(v4 "$out")" "10.86.6.2/21" "podnet-ipam continues after host-local"
out=$(big "$PODNET_BIN/podnet-ipam" ADD b1)
pn_expect_eq "$(v4 "$out")" "10.86.6.0/21" "podnet-ipam ADD stays idempotent"
pn_expect_eq "$(tr -d '\r' <"$data/big/10.86.6.0")" $'b1\neth0' "b1's lease"
[ ! -s "$data/big/10.86.5.255" ] && [ -L "$data/big/10.86.5.254" ] || pn_fail "foreign entries were touched"
pn_expect_eq "$(find "$data/big" -maxdepth 1 -type f -name '10.86.*' -exec head -qn1 {} + | sort | uniq -d | wc -l)" 0 \
  "owners holding two leases"
pn_expect_eq "$(ls "$data/big" | grep -c '^10\.')" 1537 "entries"
pn_pass "a range filled past the probes: listing fallback, interleaved with host-local"
