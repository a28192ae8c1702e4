#!/usr/bin/env bash
# containerd 1.6 runs Pods on podnet through its CRI socket. A two-node cluster
# (podnetd per node); containerd runs in node1 with the conflist podnetd wrote
# and the build's plugins, driven by tests/cri (RunPodSandbox, PodSandboxStatus,
# CreateContainer, ExecSync, StopPodSandbox, RemovePodSandbox) as the kubelet
# would. Each Pod gets its podnet address (the lease names the sandbox), pings
# its gateway and a Pod on node2, also from a container of the Pod; after
# Stop+Remove no link, route, lease or cache entry is left, and nothing of
# containerd's is left on the machine. Prints the time of RunPodSandbox with
# podnet and with the reference ptp + host-local.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
source "$PODNET_SRC/tests/lib/cri.sh"

for tool in containerd ctr runc busybox nsenter unshare findmnt jq; do
  command -v "$tool" >/dev/null || pn_fail "$tool is not installed (scripts/deps.sh)"
done
[ -x "$CRI_CLIENT" ] || pn_fail "$CRI_CLIENT is not built"
host_before=$(cri_host_leftovers)

pn_cluster_pair
n1=$PN_N1 n2=$PN_N2

# A Pod on node2, through libcni: the cross-node peer.
peer=$(pn_netns peer)
res=$(pn_cni_node "$n2" 2 add "$peer")
peer4=$(pn_ip "$res" 4)
peer6=$(pn_ip "$res" 6)

c1="$PN_TMP/cri1"
leases="$PN_TMP/node1/leases"
cri_containerd "$n1" "$c1" "$(cri_bin_dir "$PN_TMP/cni-bin")" "$PN_TMP/node1/net.d"
ver=$(cri version)
pn_expect_eq "$(jq -r .runtimeName <<<"$ver")" containerd "CRI runtime name"
pn_pass "containerd $(jq -r .runtimeVersion <<<"$ver") serves CRI $(jq -r .runtimeApiVersion <<<"$ver") in node1 ($CRI_SNAPSHOTTER snapshotter)"
before=$(pn_state "$n1" "$leases" "$c1/cni-cache")

# Two Pods side by side, then checks on each.
declare -A sid
for pod in pod-a pod-b; do
  sid[$pod]=$(cri_runp "$pod" | jq -r .id)
done
declare -A ip4
for pod in pod-a pod-b; do
  id=${sid[$pod]}
  st=$(cri_status "$id")
  pn_expect_eq "$(jq -r .state <<<"$st")" SANDBOX_READY "$pod state"
  ip=$(jq -r .ip <<<"$st")
  ip6=$(jq -r '.additionalIps[0] // ""' <<<"$st")
  [[ $ip == 10.244.1.* ]] || pn_fail "$pod: PodSandboxStatus ip '$ip' is not in node1's pod CIDR"
  [[ $ip6 == fd00:10:244:1:* ]] || pn_fail "$pod: additional ip '$ip6' is not in node1's IPv6 pod CIDR"
  ip4[$pod]=$ip
  # The lease files (host-local format) name this sandbox.
  pn_expect_eq "$(head -1 "$leases/podnet/$ip" | tr -d '\r')" "$id" "$pod: lease of $ip"
  pn_expect_eq "$(head -1 "$leases/podnet/$ip6" | tr -d '\r')" "$id" "$pod: lease of $ip6"
  # The netns containerd made holds exactly that address on eth0.
  ns=$(jq -r .netns <<<"$st")
  pn_expect_eq "$(nsenter --net="$ns" ip -j -4 addr show dev eth0 | jq -r '.[0].addr_info[0].local')" "$ip" "$pod: eth0 address in its netns"
  # libcni's cache in containerd holds the result podnet returned.
  [ -f "$c1/cni-cache/results/podnet-$id-eth0" ] || pn_fail "$pod: no libcni cache entry"
  gw=$(nsenter --net="$ns" ip -j -4 route show default | jq -r '.[0].gateway')
  nsenter --net="$ns" ping -c 1 -W 2 "$gw" >/dev/null || pn_fail "$pod: ping gateway $gw"
  nsenter --net="$ns" ping -c 1 -W 2 "$peer4" >/dev/null || pn_fail "$pod: ping node2's Pod $peer4"
  nsenter --net="$ns" ping -6 -c 1 -W 2 "$peer6" >/dev/null || pn_fail "$pod: ping6 node2's Pod $peer6"
  pn_pass "$pod: sandbox $ip / $ip6 (leases name it), pings its gateway $gw and node2's Pod $peer4 / $peer6"
done
[ "${ip4[pod-a]}" != "${ip4[pod-b]}" ] || pn_fail "two Pods share ${ip4[pod-a]}"
ip netns exec "$peer" ping -c 1 -W 2 "${ip4[pod-a]}" >/dev/null || pn_fail "node2's Pod -> pod-a"

# A container of pod-a shares its network: it sees the address and pings across.
cid=$(cri create "${sid[pod-a]}" pod-a "uid-pod-a-$PN_ID" podnet-test app "$CRI_IMAGE" /bin/sleep 2147483647)
cri start "$cid"
addrs=$(cri exec "$cid" 10 ip -o -4 addr show dev eth0)
[[ $addrs == *" ${ip4[pod-a]}/"* ]] || pn_fail "container of pod-a sees: $addrs"
cri exec "$cid" 10 ping -c 1 -W 2 "$peer4" >/dev/null || pn_fail "container of pod-a: ping $peer4"
cri exec "$cid" 10 ping -c 1 -W 2 "${ip4[pod-b]}" >/dev/null || pn_fail "container of pod-a: ping pod-b"
pn_pass "a container of pod-a (ExecSync) has ${ip4[pod-a]} and pings node2's Pod and pod-b"
cri stop "$cid"
cri rm "$cid"

# The time of RunPodSandbox: podnet (containerd in node1) against the reference
# ptp + host-local, dual-stack as podnet (a second containerd, in node2), alternately, so that both
# see the same machine load. Each sandbox is removed at once.
sock1=$CRI_SOCK
c2="$PN_TMP/cri2"
mkdir -p "$PN_TMP/ptp.d"
cat >"$PN_TMP/ptp.d/10-ptp.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "ptp", "plugins": [{"type": "ptp", "ipMasq": false,
  "ipam": {"type": "host-local", "dataDir": "$PN_TMP/ptp-leases",
    "ranges": [[{"subnet": "10.244.2.0/24", "rangeStart": "10.244.2.128"}],
               [{"subnet": "fd00:10:244:2::/64", "rangeStart": "fd00:10:244:2::8000"}]],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}]}
EOF
cri_containerd "$n2" "$c2" "$REF_CNI" "$PN_TMP/ptp.d"
sock2=$CRI_SOCK
before2=$(pn_state "$n2" "$PN_TMP/ptp-leases")
declare -A samples=([podnet]="" [ptp]="")
for k in 1 2 3 4 5 6 7 8; do
  for plugin in podnet ptp; do
    if [ $plugin = podnet ]; then CRI_SOCK=$sock1 cidr=10.244.1; else CRI_SOCK=$sock2 cidr=10.244.2; fi
    out=$(cri_runp "$plugin-t$k")
    samples[$plugin]+="$(jq -r .ms <<<"$out") "
    id=$(jq -r .id <<<"$out")
    [[ $(cri_status "$id" | jq -r .ip) == $cidr.* ]] || pn_fail "sandbox $plugin-t$k has no address in $cidr.0/24"
    cri stopp "$id"
    cri rmp "$id"
  done
done
CRI_SOCK=$sock1
for plugin in podnet ptp; do
  sorted=$(tr ' ' '\n' <<<"${samples[$plugin]% }" | sort -n)
  echo "MEASURE cri_runpodsandbox_ms $plugin min=$(head -1 <<<"$sorted") median=$(sed -n 4p <<<"$sorted") max=$(tail -1 <<<"$sorted") (8 sandboxes, alternating podnet/ptp)"
done
pn_expect_eq "$(pn_state "$n2" "$PN_TMP/ptp-leases")" "$before2" "node2 after the ptp sandboxes"

# Stop + Remove: every link, route, address, lease and cache entry goes.
for pod in pod-a pod-b; do
  cri stopp "${sid[$pod]}"
  cri rmp "${sid[$pod]}"
done
pn_expect_eq "$(pn_state "$n1" "$leases" "$c1/cni-cache")" "$before" "node1 after removing every Pod"
for ns in $(grep '^cni-' "$PN_TMP/netns.list" || true); do
  [ -e "/run/netns/$ns" ] && pn_fail "netns $ns left behind"
done
pn_pass "after Stop+RemovePodSandbox: no link, route, lease, cache entry or netns left on node1 or node2"

# containerd ends by PID; nothing of it is left on the machine.
# A removed sandbox's shim exits on its own (shortly after the RPC returns).
deadline=$((SECONDS + 5))
while [ -n "$(cri_shims "$c1")$(cri_shims "$c2")" ]; do
  [ $SECONDS -lt $deadline ] || pn_fail "shims left: $(cri_shims "$c1") $(cri_shims "$c2")"
  sleep 0.1
done
cri_stop_all
pn_expect_eq "$(cri_host_leftovers)" "$host_before" "containerd's paths, mounts and cgroups on the machine"
pn_pass "containerd ended by PID; /run/containerd, /var/lib/containerd, /var/lib/cni untouched, no mount or cgroup of ours left"
