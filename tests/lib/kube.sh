# Helpers for tests of podnetd's Kubernetes source: source after
# tests/lib/common.sh and tests/lib/cluster.sh.
#
# The test API server (tests/apiserver/apiserver.py) runs inside the underlay
# namespace, on br0's address 192.168.77.2 (and fd77::2), TLS with a CA the
# test generates, bearer tokens from a file; its control port is plain HTTP on
# 127.0.0.1:6444 inside the same namespace. Nothing runs in the root namespace.

PN_KUBE="$PN_TMP/kube"
PN_APISERVER_ADDR=192.168.77.2
mkdir -p "$PN_KUBE"

# pn_kube_pki: a CA, a server certificate for 192.168.77.2/fd77::2, and a
# client certificate, in $PN_KUBE (ca.crt, server.{crt,key}, client.{crt,key}).
pn_kube_pki() {
  local d=$PN_KUBE
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=podnet-test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=kube-apiserver \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,IP:fd77::2,DNS:kubernetes.default.svc\n' "$PN_APISERVER_ADDR" >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=system:nodes/CN=system:node:podnetd" \
    -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -out "$d/client.crt" 2>/dev/null
  # A second CA that signed nothing here: verification against it must fail.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=other-ca -keyout "$d/other-ca.key" -out "$d/other-ca.crt" 2>/dev/null
}

# pn_apiserver_up UNDERLAY: gives br0 the API server's addresses (once).
pn_apiserver_up() {
  ip -n "$1" addr replace "$PN_APISERVER_ADDR/24" dev br0
  ip -n "$1" addr replace fd77::2/64 dev br0 nodad
}

# pn_apiserver UNDERLAY [flags...]: starts the test API server in UNDERLAY
# (tracked, TLS, tokens from $PN_KUBE/tokens, state in $PN_KUBE/state.json),
# in the calling shell; sets PN_APISERVER_PID; waits until it serves.
pn_apiserver() {
  local u=$1 deadline
  shift
  touch "$PN_KUBE/tokens"
  ip netns exec "$u" /usr/bin/python3 "$PODNET_SRC/tests/apiserver/apiserver.py" \
    --listen "$PN_APISERVER_ADDR:6443" --control 127.0.0.1:6444 \
    --cert "$PN_KUBE/server.crt" --key "$PN_KUBE/server.key" --token-file "$PN_KUBE/tokens" \
    --state "$PN_KUBE/state.json" "$@" </dev/null >>"$PN_KUBE/apiserver.log" 2>&1 &
  PN_APISERVER_PID=$!
  pn_track "$PN_APISERVER_PID"
  deadline=$((SECONDS + PN_DEADLINE))
  until ip netns exec "$u" curl -sf --max-time 5 http://127.0.0.1:6444/stats >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || pn_fail "test API server did not start: $(tail -5 "$PN_KUBE/apiserver.log")"
    sleep 0.05
  done
}

# pn_apiserver_stop: ends the test API server (SIGKILL: an outage, not a goodbye).
pn_apiserver_stop() {
  kill -KILL "$PN_APISERVER_PID" 2>/dev/null || true
  wait "$PN_APISERVER_PID" 2>/dev/null || true
}

# pn_kctl UNDERLAY PATH [JSON]: drives the test API server (POST PATH JSON, or GET /stats).
pn_kctl() {
  if [ $# -ge 3 ]; then
    # Through stdin: a body of thousands of Nodes is longer than an argument may be.
    printf '%s' "$3" | ip netns exec "$1" curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' \
      --data-binary @- "http://127.0.0.1:6444$2"
  else
    ip netns exec "$1" curl -sf --max-time 30 "http://127.0.0.1:6444$2"
  fi
}

# pn_kstat UNDERLAY KEY: one number of the API server's /stats.
pn_kstat() { pn_kctl "$1" /stats | jq -r ".$2"; }

# pn_kube_specs I...: node specs for /nodes/apply for nodes I... (cluster.sh's addressing).
pn_kube_specs() {
  local i sep=""
  printf '['
  for i in "$@"; do
    printf '%s{"name":"node%s","addresses":["192.168.77.%s","fd77::%s"],"podCIDRs":["10.244.%s.0/24","fd00:10:244:%s::/64"]}' \
      "$sep" "$i" "$((10 + i))" "$((10 + i))" "$i" "$i"
    sep=","
  done
  printf ']'
}

# pn_kube_apply UNDERLAY I...: adds (or resets) nodes I... in the API server.
pn_kube_apply() {
  local u=$1
  shift
  pn_kctl "$u" /nodes/apply "{\"nodes\":$(pn_kube_specs "$@")}" >/dev/null
}

# pn_kube_delete UNDERLAY I...: deletes nodes I... from the API server.
pn_kube_delete() {
  local u=$1 i names="" sep=""
  shift
  for i in "$@"; do
    names="$names$sep\"node$i\""
    sep=","
  done
  pn_kctl "$u" /nodes/delete "{\"names\":[$names]}" >/dev/null
}

# pn_kubeconfig FILE [token|tokenFile|cert] [CA]: a kubeconfig for the test API
# server: a fixed token ($PN_KUBE/token's content), a token file
# ($PN_KUBE/client-token, re-read by podnetd) or the client certificate.
pn_kubeconfig() {
  local file=$1 auth=${2:-tokenFile} ca=${3:-$PN_KUBE/ca.crt} user
  case $auth in
    token) user="    token: $(cat "$PN_KUBE/token")" ;;
    tokenFile) user="    tokenFile: $PN_KUBE/client-token" ;;
    cert) user="    client-certificate: $PN_KUBE/client.crt
    client-key: $PN_KUBE/client.key" ;;
  esac
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://$PN_APISERVER_ADDR:6443
    certificate-authority: $ca
contexts:
- name: podnetd@test
  context: {cluster: test, user: podnetd}
current-context: podnetd@test
users:
- name: podnetd
  user:
$user
EOF
}

# pn_kube_podnetd NODE I KUBECONFIG [flags...]: podnetd as node I inside NODE
# with --source kubernetes (tracked, in the calling shell); sets PN_PID.
pn_kube_podnetd() {
  local n=$1 i=$2 kc=$3
  shift 3
  mkdir -p "$PN_TMP/node$i/net.d"
  ip netns exec "$n" "$PODNET_BIN/podnetd" --node-name "node$i" --source kubernetes --kubeconfig "$kc" \
    --cni-conf-dir "$PN_TMP/node$i/net.d" --ipam-data-dir "$PN_TMP/node$i/leases" \
    --log-file "$PN_TMP/node$i/podnetd.log" "$@" </dev/null >>"$PN_TMP/node$i/podnetd.out" 2>&1 &
  PN_PID=$!
  pn_track "$PN_PID"
}

# pn_wait_log FILE PATTERN [SECONDS]: waits until FILE has a line matching PATTERN (grep -E).
pn_wait_log() {
  local f=$1 pat=$2 deadline=$((SECONDS + ${3:-$PN_DEADLINE}))
  until grep -qE "$pat" "$f" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || pn_fail "no log line matching '$pat' in $f"
    sleep 0.05
  done
}

# pn_wait_stat UNDERLAY KEY MIN [SECONDS]: waits until the API server's stat KEY is >= MIN.
pn_wait_stat() {
  local u=$1 key=$2 min=$3 deadline=$((SECONDS + ${4:-$PN_DEADLINE})) v
  while :; do
    v=$(pn_kstat "$u" "$key")
    [ "$v" -ge "$min" ] && return 0
    [ $SECONDS -lt $deadline ] || pn_fail "API server stat $key is $v, expected >= $min"
    sleep 0.05
  done
}
