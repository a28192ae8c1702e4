#!/usr/bin/env bash
# The CNI protocol as runtimes speak it: VERSION through the real libcni, and a
# table of bad inputs sent straight to each binary. Each bad input must get the
# spec's error code in the error JSON on stdout, exit 1, and change nothing.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
pod=$(pn_netns pod)

# VERSION through libcni, as podman and containerd ask it.
for plugin in podnet podnet-ipam; do
  out=$(ip netns exec "$node" env CNI_PATH="$PODNET_BIN" "$CNITOOL" version "$plugin")
  pn_expect_eq "$(jq -c .supportedVersions <<<"$out")" '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' "$plugin VERSION"
done
pn_pass "VERSION through libcni"

snapshot() {
  ip -n "$node" -j link show | jq -c '[.[].ifname]'
  ip -n "$node" -j route show table all | jq -c length
  ip -n "$pod" -j link show | jq -c '[.[].ifname]'
  find "$PN_TMP/data" 2>/dev/null | sort
}
mkdir -p "$PN_TMP/data"
before=$(snapshot)

good='{"cniVersion":"1.0.0","name":"pn","type":"podnet","ipam":{"type":"podnet-ipam","dataDir":"'"$PN_TMP"'/data/pn","ranges":[[{"subnet":"10.99.0.0/24"}]]}}'
base_env=(CNI_COMMAND=ADD CNI_CONTAINERID=ctr1 "CNI_NETNS=/run/netns/$pod" CNI_IFNAME=eth0 "CNI_PATH=$PODNET_BIN")
long=$(printf 'a%.0s' $(seq 300))

# name | expected code | config | env overrides
cases=(
  "malformed JSON|6|{\"cniVersion\":|"
  "empty config|6||"
  "unknown cniVersion|1|{\"cniVersion\":\"7.0.0\",\"name\":\"pn\",\"type\":\"podnet\"}|"
  "missing type|7|{\"cniVersion\":\"1.0.0\",\"name\":\"pn\"}|"
  "network name with ..|7|{\"cniVersion\":\"1.0.0\",\"name\":\"../../etc\",\"type\":\"podnet\"}|"
  "network name 300 chars|7|{\"cniVersion\":\"1.0.0\",\"name\":\"$long\",\"type\":\"podnet\"}|"
  "missing CNI_COMMAND|4|$good|CNI_COMMAND="
  "unknown CNI_COMMAND|4|$good|CNI_COMMAND=FROB"
  "missing CNI_NETNS|4|$good|CNI_NETNS="
  "missing CNI_PATH|4|$good|CNI_PATH="
  "container ID with slash|4|$good|CNI_CONTAINERID=../../etc/passwd"
  "container ID 300 chars|4|$good|CNI_CONTAINERID=$long"
  "container ID with newline|4|$good|CNI_CONTAINERID=a
b"
  "ifname with slash|4|$good|CNI_IFNAME=../eth0"
  "ifname 16 chars|4|$good|CNI_IFNAME=abcdefghijklmnop"
  "ifname unicode too long|4|$good|CNI_IFNAME=éééééééé"
  "unknown CNI_ARGS key|2|$good|CNI_ARGS=FOO=1"
  "CHECK below 0.4.0|1|{\"cniVersion\":\"0.3.1\",\"name\":\"pn\",\"type\":\"podnet\"}|CNI_COMMAND=CHECK"
)
for plugin in podnet podnet-ipam; do
  for c in "${cases[@]}"; do
    IFS='|' read -r -d '' name code conf override <<<"$c" || true
    override=${override%$'\n'}
    envs=("${base_env[@]}")
    [ -n "$override" ] && envs+=("$override")
    set +e
    out=$(pn_plugin "$node" "$PODNET_BIN/$plugin" "$conf" "${envs[@]}" 2>/dev/null)
    rc=$?
    set -e
    pn_expect_eq "$rc" 1 "$plugin: $name: exit status"
    pn_expect_eq "$(jq -r .code <<<"$out")" "$code" "$plugin: $name: error code (output: $out)"
    [ -n "$(jq -r '.msg // empty' <<<"$out")" ] || pn_fail "$plugin: $name: no msg"
    jq -e 'has("ips") | not' <<<"$out" >/dev/null || pn_fail "$plugin: $name: partial result"
  done
done
pn_expect_eq "$(snapshot)" "$before" "node, pod and dataDir after bad input"
pn_pass "${#cases[@]} bad inputs x 2 binaries: right code, exit 1, nothing changed"
