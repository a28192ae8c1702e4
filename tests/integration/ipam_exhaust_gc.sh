#!/usr/bin/env bash
# A /29 fills up: the next ADD fails naming the range and writes nothing;
# STATUS reports code 50; GC releases only leases of invalid attachments;
# requested and bad addresses get code 7.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
data="$PN_TMP/data"
conf='{"cniVersion":"1.1.0","name":"small","type":"ptp","ipam":{"type":"podnet-ipam","dataDir":"'"$data"'","subnet":"10.80.0.0/29"}}'

# ipam VERB ID [env...]: runs podnet-ipam in the node, prints stdout, returns its exit code.
ipam() {
  local verb=$1 id=$2
  shift 2
  pn_plugin "$node" "$PODNET_BIN/podnet-ipam" "${CONF:-$conf}" CNI_COMMAND="$verb" CNI_CONTAINERID="$id" \
    CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN" "$@" 2>/dev/null
}
# expect_error CODE NEEDLE VERB ID [env...]
expect_error() {
  local code=$1 needle=$2 out rc
  shift 2
  set +e
  out=$(ipam "$@")
  rc=$?
  set -e
  [ "$rc" -eq 1 ] || pn_fail "$*: exit $rc, want 1 ($out)"
  pn_expect_eq "$(jq -r .code <<<"$out")" "$code" "$* error code"
  grep -qF -- "$needle" <<<"$(jq -r '.msg + " " + .details' <<<"$out")" || pn_fail "$*: '$needle' not in: $out"
}
state() { (cd "$data/small" && for f in *; do printf '%s=%s\n' "$f" "$(tr '\r\n' '|/' <"$f")"; done) | sort; }

ipam STATUS "" >/dev/null || pn_fail "STATUS on an empty network"
for i in 1 2 3 4 5; do
  pn_expect_eq "$(ipam ADD "c$i" | jq -r '.ips[0].address')" "10.80.0.$((i + 1))/29" "ADD c$i"
done
before=$(state)
expect_error 999 "no IP addresses available in range set 0: 10.80.0.0/29 (10.80.0.1-10.80.0.6)" ADD c6
pn_expect_eq "$(state)" "$before" "store after the failed ADD"
expect_error 50 "10.80.0.0/29" STATUS ""
pn_pass "a /29 exhausts after 5 leases with a clear error, writing nothing; STATUS is code 50"

# Requested addresses.
expect_error 7 "requested IP address 10.80.0.3 is not available" ADD c7 CNI_ARGS=IP=10.80.0.3
expect_error 7 "requested IP address 10.99.0.3 is outside every range" ADD c7 CNI_ARGS=IP=10.99.0.3
pn_expect_eq "$(state)" "$before" "store after refused requests"
ipam DEL c3 >/dev/null
pn_expect_eq "$(ipam ADD c7 CNI_ARGS=IP=10.80.0.4 | jq -r '.ips[0].address')" "10.80.0.4/29" "requested free address"
pn_pass "requested addresses: taken or outside is code 7, free is granted"

# GC: valid are c1 and c7; c2, c4, c5 go. A foreign file stays.
echo "not a lease" >"$data/small/README"
gc_conf=$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c7","ifname":"eth0"}]}' <<<"$conf")
CONF=$gc_conf ipam GC "" >/dev/null || pn_fail "GC failed"
pn_expect_eq "$(ls "$data/small" | grep '^10\.' | tr '\n' ' ')" "10.80.0.2 10.80.0.4 " "leases after GC"
[ -e "$data/small/README" ] || pn_fail "GC removed a foreign file"
ipam STATUS "" >/dev/null || pn_fail "STATUS after GC must succeed"
CONF=$(jq -c 'del(.["cni.dev/valid-attachments"])' <<<"$gc_conf") expect_error 7 "valid-attachments" GC ""
pn_expect_eq "$(ls "$data/small" | grep -c '^10\.')" 2 "a GC without the list removes nothing"
pn_pass "GC releases only leases of invalid attachments; STATUS recovers"

# Bad configs: code 7 naming the field.
bad() { jq -c --argjson r "$1" '.ipam += $r' <<<"$conf"; }
CONF=$(bad '{"subnet":"10.80.0.0/31"}') expect_error 7 "ipam.subnet 10.80.0.0/31 is too small" ADD c9
CONF=$(bad '{"gateway":"10.81.0.1"}') expect_error 7 "ipam.gateway 10.81.0.1 is outside subnet" ADD c9
CONF=$(bad '{"rangeStart":"10.80.0.6","rangeEnd":"10.80.0.3"}') expect_error 7 "ipam.rangeStart 10.80.0.6 is after" ADD c9
CONF=$(bad '{"ranges":[[{"subnet":"10.80.0.0/30"}]]}') expect_error 7 "ipam.ranges[0] overlaps ipam" ADD c9
CONF=$(bad '{"ranges":[[{"subnet":"10.90.0.0/24"},{"subnet":"fd00::/64"}]]}') expect_error 7 "mixes address families" ADD c9
pn_pass "bad configs: code 7 naming the field"
