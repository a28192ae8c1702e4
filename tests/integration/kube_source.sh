#!/usr/bin/env bash
# podnetd's Kubernetes source against the test API server (tests/apiserver/,
# run inside the underlay namespace; TLS with a CA made here): list then watch,
# Node add/modify/delete, a Node without a pod CIDR, TLS verification, bearer
# token (re-read when rotated) and client certificate, watch drops, 410 Gone
# (ERROR event and a too-old resourceVersion), bookmarks, malformed events,
# slow streams, failing lists with backoff, and pagination. Routes are read
# from the kernel with `ip route`.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
source "$PODNET_SRC/tests/lib/cluster.sh"
source "$PODNET_SRC/tests/lib/kube.sh"

pn_kube_pki
u=$(pn_underlay)
pn_apiserver_up "$u"
n1=$(pn_cluster_node "$u" 1)
n2=$(pn_cluster_node "$u" 2)
echo "tok-1" >"$PN_KUBE/tokens"
echo "tok-1" >"$PN_KUBE/client-token"
pn_apiserver "$u" --client-ca "$PN_KUBE/ca.crt"
pn_kube_apply "$u" 1 2 3
pn_kctl "$u" /nodes/apply '{"nodes":[{"name":"node5","addresses":["192.168.77.15"],"podCIDRs":[]}]}' >/dev/null

# A CA that did not sign the server's certificate: nothing is loaded, nothing
# changes, and the log says why.
pn_kubeconfig "$PN_KUBE/bad-ca.kubeconfig" tokenFile "$PN_KUBE/other-ca.crt"
pn_kube_podnetd "$n1" 1 "$PN_KUBE/bad-ca.kubeconfig" --listen 127.0.0.1:9651
bad=$PN_PID
pn_wait_log "$PN_TMP/node1/podnetd.log" 'certificate verify failed' 5
[ -z "$(pn_routes "$n1")" ] || pn_fail "routes with an untrusted API server"
kill "$bad"
wait "$bad" 2>/dev/null || true
rm -f "$PN_TMP/node1/podnetd.log"
pn_pass "an API server certificate from another CA is refused"

# node1: token file; node2: client certificate. Both list, then watch.
pn_kubeconfig "$PN_KUBE/n1.kubeconfig" tokenFile
pn_kubeconfig "$PN_KUBE/n2.kubeconfig" cert
pn_kube_podnetd "$n1" 1 "$PN_KUBE/n1.kubeconfig"
pid1=$PN_PID
pn_kube_podnetd "$n2" 2 "$PN_KUBE/n2.kubeconfig"
pid2=$PN_PID
pn_wait_ready "$n1"
pn_wait_ready "$n2"
# node5's own Node has no pod CIDR yet: its podnetd writes no CNI config (a
# runtime would find no network and keep the node NotReady) until it has one.
n5=$(pn_cluster_node "$u" 5)
pn_kube_podnetd "$n5" 5 "$PN_KUBE/n1.kubeconfig"
pid5=$PN_PID
pn_wait_ready "$n5"
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)"
pn_wait_routes "$n2" "$(pn_expected_routes 2 1 2 3)"
grep -q '"10.244.1.0/24"' "$PN_TMP/node1/net.d/10-podnet.conflist" || pn_fail "node1's conflist lacks its pod CIDR"
pn_wait_stat "$u" activeWatches 2
pn_kctl "$u" /stats | jq -r '.watchQueries[]' | grep -q 'allowWatchBookmarks=true' || pn_fail "watch without bookmarks"
pn_expect_eq "$(pn_kstat "$u" authFailures)" 0 "401s so far"
pn_pass "list + watch over TLS, with a token file (node1) and a client certificate (node2); node5 (no pod CIDR) skipped"
pn_wait_log "$PN_TMP/node5/podnetd.log" 'no pod CIDR in the node list; no CNI config written' 5
[ ! -e "$PN_TMP/node5/net.d/10-podnet.conflist" ] || pn_fail "node5 wrote a CNI config without a pod CIDR"
pn_pass "a node whose own pod CIDR is not assigned yet writes no CNI config"

# Watch events: add, modify (new address), pod CIDR assigned later, delete.
pn_kube_apply "$u" 4
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 4)"
pn_kctl "$u" /nodes/apply '{"nodes":[{"name":"node3","addresses":["192.168.77.33"],"podCIDRs":["10.244.3.0/24"]}]}' >/dev/null
pn_kctl "$u" /nodes/apply '{"nodes":[{"name":"node5","addresses":["192.168.77.15"],"podCIDRs":["10.244.5.0/24"]}]}' >/dev/null
want_mod=$({ pn_expected_routes 1 1 2 4; echo "10.244.3.0/24 via 192.168.77.33 dev eth0"; echo "10.244.5.0/24 via 192.168.77.15 dev eth0"; } | sort)
pn_wait_routes "$n1" "$want_mod"
for _ in $(seq 100); do
  grep -q '"10.244.5.0/24"' "$PN_TMP/node5/net.d/10-podnet.conflist" 2>/dev/null && break
  sleep 0.05
done
grep -q '"10.244.5.0/24"' "$PN_TMP/node5/net.d/10-podnet.conflist" 2>/dev/null ||
  pn_fail "node5 wrote no CNI config with its pod CIDR once it was assigned"
kill "$pid5"
wait "$pid5" 2>/dev/null || true
pn_kube_apply "$u" 3
pn_kube_delete "$u" 4 5
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)"
pn_wait_routes "$n2" "$(pn_expected_routes 2 1 2 3)"
pn_pass "ADDED, MODIFIED (address, pod CIDR assigned later: node5's own CNI config then written) and DELETED reach the kernel"

lists=$(pn_kstat "$u" lists)
watches=$(pn_kstat "$u" watches)

# A dropped watch (connection cut, no final chunk) resumes without a relist.
pn_kctl "$u" /watch/drop '{}' >/dev/null
pn_kube_apply "$u" 6
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 6)"
pn_wait_stat "$u" watches $((watches + 2))
pn_expect_eq "$(pn_kstat "$u" lists)" "$lists" "lists after a dropped watch"
pn_pass "dropped watch: resumed from the last resourceVersion, no relist"

# A bookmark moves the resourceVersion the next watch resumes from.
pn_wait_stat "$u" activeWatches 2
rv=$(pn_kctl "$u" /watch/bookmark '{}' | jq -r .rv)
sleep 0.3
pn_kctl "$u" /watch/drop '{}' >/dev/null
deadline=$((SECONDS + 5))
until pn_kctl "$u" /stats | jq -r '.watchQueries[]' | grep -q "resourceVersion=$rv&"; do
  [ $SECONDS -lt $deadline ] || pn_fail "no watch resumed from the bookmark's resourceVersion $rv"
  sleep 0.05
done
pn_expect_eq "$(pn_kstat "$u" lists)" "$lists" "lists after a bookmark"
pn_pass "bookmark: the watch resumes from its resourceVersion $rv"

# 410 Gone as an ERROR event: relist, routes unchanged, later events applied.
pn_wait_stat "$u" activeWatches 2
before=$(pn_routes "$n1")
pn_kctl "$u" /watch/gone '{}' >/dev/null
pn_wait_stat "$u" lists $((lists + 2))
pn_expect_eq "$(pn_routes "$n1")" "$before" "node1's routes across a 410 relist"
pn_kube_delete "$u" 6
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)"
lists=$(pn_kstat "$u" lists)
pn_pass "ERROR 410 event: relisted, no route changed"

# Too old: history compacted past the watchers' resourceVersion, then the
# watch is cut; resuming gets ERROR 410 and the source relists.
pn_wait_stat "$u" activeWatches 2
pn_kctl "$u" /compact '{"bump":true}' >/dev/null
pn_kctl "$u" /watch/drop '{}' >/dev/null
pn_wait_stat "$u" lists $((lists + 2))
pn_kube_apply "$u" 7
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 7)"
lists=$(pn_kstat "$u" lists)
pn_pass "resume from a compacted resourceVersion: 410, relisted"

# A malformed event: the source cannot know what it missed, so it relists.
pn_wait_stat "$u" activeWatches 2
pn_kctl "$u" /watch/malformed '{}' >/dev/null
pn_wait_stat "$u" lists $((lists + 2)) 8
pn_wait_log "$PN_TMP/node1/podnetd.log" 'malformed watch event'
pn_kube_delete "$u" 7
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)" 8
lists=$(pn_kstat "$u" lists)
pn_pass "malformed event: logged, relisted, later events applied"

# Slow stream: events dribbled 7 bytes at a time, lines split across chunks.
pn_wait_stat "$u" activeWatches 2
pn_kctl "$u" /mode '{"slow":true}' >/dev/null
pn_kube_apply "$u" 8 9
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 8 9)" 15
pn_kctl "$u" /mode '{"slow":false}' >/dev/null
pn_pass "slow stream (7-byte chunks): both events applied"

# Failing lists (500) while relisting: backoff, routes kept, then recovery;
# the relist is paginated (2 Nodes a page).
pn_wait_stat "$u" activeWatches 2
before=$(pn_routes "$n1")
pn_kctl "$u" /mode '{"failLists":4,"pageSize":2}' >/dev/null
pn_kctl "$u" /watch/gone '{}' >/dev/null
pn_wait_stat "$u" lists $((lists + 4)) 8
pn_expect_eq "$(pn_routes "$n1")" "$before" "node1's routes while lists fail"
pn_wait_log "$PN_TMP/node1/podnetd.log" 'list Nodes: HTTP 500'
pn_wait_stat "$u" activeWatches 2 10
pn_kube_delete "$u" 8 9
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)"
pn_kctl "$u" /stats | jq -r '.listQueries[]' | grep -q 'limit=500&continue=' || pn_fail "no paginated list"
pn_kctl "$u" /mode '{"pageSize":0}' >/dev/null
pn_pass "lists failing with 500: backoff, routes kept, paginated relist recovers"

# Token rotation: podnetd re-reads its token file; the old token stops working.
pn_wait_stat "$u" activeWatches 2
printf 'tok-1\ntok-2\n' >"$PN_KUBE/tokens"
echo "tok-2" >"$PN_KUBE/client-token.new"
mv "$PN_KUBE/client-token.new" "$PN_KUBE/client-token"
echo "tok-2" >"$PN_KUBE/tokens"
pn_kctl "$u" /watch/drop '{}' >/dev/null
pn_kube_apply "$u" 10
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3 10)"
pn_expect_eq "$(pn_kstat "$u" authFailures)" 0 "401s after the token rotation"
grep -q 'token file changed' "$PN_TMP/node1/podnetd.log" || pn_fail "no log of the token change"
pn_pass "token rotation: the new token is read and used"

# A token the server does not know: 401, retried, routes kept.
echo "wrong" >"$PN_KUBE/client-token"
before=$(pn_routes "$n1")
pn_kctl "$u" /watch/drop '{}' >/dev/null
pn_wait_stat "$u" authFailures 2 8
pn_expect_eq "$(pn_routes "$n1")" "$before" "node1's routes while unauthorized"
echo "tok-2" >"$PN_KUBE/client-token"
pn_kube_delete "$u" 10
pn_wait_routes "$n1" "$(pn_expected_routes 1 1 2 3)" 15
pn_pass "401: retried with backoff, routes kept, recovers with a valid token"

# In-cluster: no --kubeconfig, so KUBERNETES_SERVICE_HOST/PORT and the
# service account's token and CA in /var/run/secrets/kubernetes.io/serviceaccount,
# as in a Pod. podnetd runs in a mount namespace of its own whose /run is a
# tmpfs holding that directory; the machine's /run is not touched.
n6=$(pn_cluster_node "$u" 6)
ip netns exec "$n6" env KUBERNETES_SERVICE_HOST="$PN_APISERVER_ADDR" KUBERNETES_SERVICE_PORT=6443 \
  unshare --mount --propagation private bash -c '
    mount -t tmpfs -o mode=0755 podnet-test-run /run
    sa=/var/run/secrets/kubernetes.io/serviceaccount
    mkdir -p "$sa"
    cp "$1" "$sa/ca.crt"
    cp "$2" "$sa/token"
    exec "$3" --node-name node6 --source kubernetes --cni-conf-dir "$4/net.d" \
      --ipam-data-dir "$4/leases" --log-file "$4/podnetd.log" --log-level debug --kube-relist-interval 1' \
  in-cluster "$PN_KUBE/ca.crt" "$PN_KUBE/client-token" "$PODNET_BIN/podnetd" "$PN_TMP/node6" \
  </dev/null >>"$PN_TMP/node6/podnetd.out" 2>&1 &
pid6=$!
pn_track "$pid6"
pn_wait_ready "$n6"
pn_wait_routes "$n6" "$(pn_expected_routes 6 1 2 3)"
grep -q 'in-cluster service account' "$PN_TMP/node6/podnetd.log" || pn_fail "node6 did not use the in-cluster service account"
# The kubelet rotates the projected token: podnetd re-reads it.
printf 'tok-2\ntok-3\n' >"$PN_KUBE/tokens"
sa=/proc/$pid6/root/run/secrets/kubernetes.io/serviceaccount  # /var/run is a symlink to /run
echo "tok-3" >"$sa/token.new"
mv "$sa/token.new" "$sa/token"
pn_kctl "$u" /watch/drop '{}' >/dev/null
pn_kube_apply "$u" 11
pn_wait_routes "$n6" "$(pn_expected_routes 6 1 2 3 11)"
pn_wait_log "$PN_TMP/node6/podnetd.log" 'token file changed' 5
pn_kube_delete "$u" 11
pn_wait_routes "$n6" "$(pn_expected_routes 6 1 2 3)"
pn_pass "in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, token and CA files): list, watch, token rotation"
# The safety net: a full relist every --kube-relist-interval (1 s here, +0-25 %
# jitter), with the watch healthy; no route changes. Two more relists must
# come; the deadline only ends a hang (the default interval is 10 minutes, so
# an ignored flag still fails).
before=$(pn_routes "$n6")
periodic() { grep -c '"why":"periodic"' "$PN_TMP/node6/podnetd.log" || true; }
relists=$(periodic)
deadline=$((SECONDS + 60))
until [ "$(periodic)" -ge $((relists + 2)) ]; do
  [ $SECONDS -lt $deadline ] || pn_fail "periodic relists in 60 s: $(($(periodic) - relists)), want 2 or more"
  sleep 0.1
done
pn_expect_eq "$(pn_routes "$n6")" "$before" "node6's routes across periodic relists"
pn_pass "periodic relist every --kube-relist-interval: 2 more, no route changed"

# A clean exit, and nothing for the sanitizers to report (podnetd is built
# with ASan+UBSan in the test build).
for p in "$pid1" "$pid2" "$pid6"; do
  kill -TERM "$p"
  rc=0
  wait "$p" || rc=$?
  pn_expect_eq "$rc" 0 "podnetd's exit status"
done
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$PN_TMP"/node*/podnetd.out; then
  pn_fail "sanitizer reports (above)"
fi
pn_pass "SIGTERM: exit 0, no sanitizer report"
