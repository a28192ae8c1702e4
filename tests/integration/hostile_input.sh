#!/usr/bin/env bash
# Hostile input to the podnet plugin, sent straight to the binary (a runtime's
# libcni would refuse some of it before us). Each case must get a CNI error
# JSON with the expected code, exit 1, within 10 s, and change nothing on the
# node, in the pod or below the test's directory (dataDir and bystanders).
# The cases not already in cni_protocol.sh and plugin_failures.sh: NUL,
# newline, carriage return, unicode and '..' in names, a FIFO or a non-network
# namespace as CNI_NETNS, a dataDir (or its network directory) that is a
# symlink, a host interface name already used on the node; and lease files
# replaced by a symlink or a FIFO, which are counted as taken and never
# followed, read or removed.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
pod=$(pn_netns pod)
DATA="$PN_TMP/data"
mkdir -p "$DATA" "$PN_TMP/outside" "$PN_TMP/out"
echo "not a lease" >"$PN_TMP/outside/secret"

# Everything a bad input could touch: node links/addresses/routes, the pod's
# links, every file (with type, mode and size) below the test's directory
# except the plugin's own lock and index.
snapshot() {
  pn_state "$node"
  ip -n "$pod" -o link show | awk -F': ' '{print "pod link", $2}'
  find "$PN_TMP" -path "$PN_TMP/cache" -prune -o -path "$PN_TMP/out" -prune -o \
    ! -name lock ! -path '*/.podnet-index*' -printf '%y %m %s %p %l\n' | sort
}
conf() { # NAME [DATADIR]: a single-plugin config
  printf '{"cniVersion":"1.0.0","name":"%s","type":"podnet","ipam":{"type":"podnet-ipam","dataDir":"%s","ranges":[[{"subnet":"10.50.0.0/24"}]]}}' \
    "$1" "${2:-$DATA}"
}
good=$(conf hostile)
tried=0

# expect_refused NAME CODE CONFIG [ENV...]: ADD with CONFIG (and env
# overrides) fails with CODE, exit 1, within 10 s, and nothing changes.
expect_refused() {
  local name=$1 code=$2 config=$3 rc out
  shift 3
  local before
  before=$(snapshot)
  set +e
  out=$(printf '%s' "$config" | timeout 10 ip netns exec "$node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    CNI_COMMAND=ADD CNI_CONTAINERID=ctr1 "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 \
    "CNI_PATH=$PODNET_BIN" "$@" "$PODNET_BIN/podnet" 2>"$PN_TMP/out/stderr")
  rc=$?
  set -e
  [ $rc != 124 ] || pn_fail "$name: no answer within 10 s"
  pn_expect_eq "$rc" 1 "$name: exit status (output: $out $(head -c 300 "$PN_TMP/out/stderr"))"
  jq -e . >/dev/null 2>&1 <<<"$out" || pn_fail "$name: stdout is not JSON: $out"
  pn_expect_eq "$(jq -r .code <<<"$out")" "$code" "$name: error code (output: $out)"
  [ -n "$(jq -r '.msg // empty' <<<"$out")" ] || pn_fail "$name: no msg"
  pn_expect_eq "$(snapshot)" "$before" "$name: node, pod and files"
  tried=$((tried + 1))
}

# Names. (An environment variable cannot hold a NUL; JSON can.)
long=$(printf 'n%.0s' $(seq 300))
for bad in 'a\u0000b' 'a\nb' 'a\rb' 'a/b' '..' '.' '../x' 'ñet' '-net' "$long" 'net\u0000/../../etc'; do
  expect_refused "network name \"$bad\"" 7 "$(conf "$bad")"
done
for bad in $'a\rb' $'x\r\neth0' '..' '.' 'a b' 'ñandú' '-ctr' $'\x01' 'a:b' '../../x'; do
  expect_refused "container ID \"$bad\"" 4 "$good" CNI_CONTAINERID="$bad"
done
for bad in '.' '..' 'a:b' 'eth 0' $'eth\t0' $'eth\n0' $'\x7f' 'a/b' ''; do
  expect_refused "ifname \"$bad\"" 4 "$good" CNI_IFNAME="$bad"
done
expect_refused "IPAM type with a slash" 7 '{"cniVersion":"1.0.0","name":"hostile","type":"podnet","ipam":{"type":"../../bin/sh"}}'
pn_pass "$tried hostile names refused with their codes, nothing changed"

# Namespaces that are not the pod's network namespace. A FIFO must not hang
# the plugin; another kind of namespace must not be entered.
mkfifo "$PN_TMP/fifo"
ln -s "$PN_TMP/outside/secret" "$PN_TMP/nslink"
n=$tried
for ns in /proc/self/ns/uts /proc/self/ns/mnt /dev/null "$PN_TMP/nslink"; do
  expect_refused "netns $ns" 8 "$good" CNI_NETNS="$ns"
done
pn_pass "$((tried - n)) netns paths (other namespace kinds, a device, a symlink to a file) refused"

# A dataDir that is a symlink, and a network directory that is a symlink:
# refused (code 5) without writing through them.
ln -s "$PN_TMP/outside" "$PN_TMP/datalink"
expect_refused "dataDir a symlink" 5 "$(conf hostile "$PN_TMP/datalink")"
mkdir -p "$PN_TMP/data2"
ln -s "$PN_TMP/outside" "$PN_TMP/data2/hostile"
expect_refused "network directory a symlink" 5 "$(conf hostile "$PN_TMP/data2")"
pn_pass "symlinked dataDir and network directory refused, nothing written through them"

# A host interface name already used on the node: learn the name podnet
# derives for this attachment, then give it to a foreign link.
out=$(pn_plugin "$node" "$PODNET_BIN/podnet" "$good" CNI_COMMAND=ADD CNI_CONTAINERID=taken \
  "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN")
hostveth=$(jq -r '.interfaces[0].name' <<<"$out")
pn_plugin "$node" "$PODNET_BIN/podnet" "$good" CNI_COMMAND=DEL CNI_CONTAINERID=taken \
  "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN"
ip -n "$node" link add "$hostveth" type bridge
ip -n "$node" addr add 192.0.2.1/32 dev "$hostveth"
expect_refused "host interface $hostveth already on the node" 4 "$good" CNI_CONTAINERID=taken
pn_pass "host interface name already used on the node: refused, the foreign link untouched"
# The runtime's DEL after the failed ADD must not delete the foreign link
# either: DEL deletes the derived name only when it is podnet's veth.
pn_plugin "$node" "$PODNET_BIN/podnet" "$good" CNI_COMMAND=DEL CNI_CONTAINERID=taken \
  "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN"
ip -n "$node" link show "$hostveth" >/dev/null 2>&1 || pn_fail "DEL after the refused ADD deleted the foreign link $hostveth"
ip -n "$node" -o addr show dev "$hostveth" | grep -q 192.0.2.1/32 || pn_fail "DEL changed the foreign link's address"
pn_pass "DEL after the refused ADD: the foreign link $hostveth untouched"

# The pod's interface name is also a name on the node (eth0 here): no clash,
# the node's link is untouched.
ip -n "$node" link add eth0 type bridge
before=$(ip -n "$node" -d -j link show eth0 | jq -c '.[0] | {ifindex, link_type, address, linkinfo}')
out=$(pn_plugin "$node" "$PODNET_BIN/podnet" "$good" CNI_COMMAND=ADD CNI_CONTAINERID=same \
  "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN")
ip -n "$pod" link show eth0 | grep -q 'link/ether' || pn_fail "no eth0 in the pod"
pn_expect_eq "$(ip -n "$node" -d -j link show eth0 | jq -c '.[0] | {ifindex, link_type, address, linkinfo}')" \
  "$before" "the node's own eth0"
pn_plugin "$node" "$PODNET_BIN/podnet" "$good" CNI_COMMAND=DEL CNI_CONTAINERID=same \
  "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN"
ip -n "$node" link show eth0 >/dev/null || pn_fail "DEL removed the node's eth0"
ip -n "$node" link delete eth0
pn_pass "CNI_IFNAME equal to a node link name: the node's link untouched"

# Lease files replaced by a symlink (to a file outside) and by a FIFO: the
# addresses count as taken, nothing is read or followed, and DEL and GC leave
# them and their target alone.
ip -n "$node" link delete "$hostveth" 2>/dev/null || true
net="$DATA/hostile"
ln -s "$PN_TMP/outside/secret" "$net/10.50.0.2"
mkfifo -m 0600 "$net/10.50.0.3"
rm -f "$net"/last_reserved_ip*
before=$(stat -c '%i %s %Y' "$PN_TMP/outside/secret")
out=$(timeout 10 ip netns exec "$node" env -i CNI_COMMAND=ADD CNI_CONTAINERID=lease "CNI_NETNS=/run/netns/$pod" \
  CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN" "$PODNET_BIN/podnet" <<<"$good") || pn_fail "ADD next to a FIFO lease: $out"
got=$(pn_ip "$out" 4)
[ "$got" != 10.50.0.2 ] && [ "$got" != 10.50.0.3 ] || pn_fail "ADD was given $got, held by a symlink/FIFO"
for verb in DEL GC; do
  timeout 10 ip netns exec "$node" env -i CNI_COMMAND=$verb CNI_CONTAINERID=lease "CNI_NETNS=/run/netns/$pod" \
    CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN" "$PODNET_BIN/podnet" \
    <<<"$(jq -c '. + {"cniVersion": "1.1.0", "cni.dev/valid-attachments": []}' <<<"$good")" || pn_fail "$verb next to a FIFO lease"
done
[ -L "$net/10.50.0.2" ] && [ -p "$net/10.50.0.3" ] || pn_fail "DEL/GC removed the symlink or FIFO lease"
pn_expect_eq "$(stat -c '%i %s %Y' "$PN_TMP/outside/secret")" "$before" "the symlink lease's target"
pn_expect_eq "$(cat "$PN_TMP/outside/secret")" "not a lease" "the symlink lease's target content"
pn_pass "symlink and FIFO leases: taken, never followed, read or removed"

# A FIFO as the netns (opened without blocking) and a dataDir with a NUL
# (never cut at the NUL) are refused like the rest.
expect_refused "netns a FIFO" 8 "$good" CNI_NETNS="$PN_TMP/fifo"
expect_refused "dataDir with a NUL" 7 "$(conf hostile "$DATA/x\\u0000/y")"
pn_pass "hostile input: $((tried + 2)) inputs, 0 changes"
