# Shared helpers for podnet's shell tests. Source it; it sets `set -euo pipefail`
# and a trap that deletes every namespace and temp dir the test made, even on
# failure. Nothing is ever configured in the machine's own network namespace.
set -euo pipefail

: "${PODNET_BIN:?PODNET_BIN must name the build bin directory}"
PODNET_SRC=${PODNET_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
REF_CNI=${REF_CNI:-/usr/lib/cni}
CNITOOL="$PODNET_BIN/cnitool"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }

# The test's ID begins the name of everything it makes (namespaces pn<ID>-*,
# the directory /tmp/podnet-test.<ID>.*, cgroups podnet-*-<ID>*): the ID
# tests/lib/run_test.sh gave it (which removes what a killed test left by that
# ID), or a random one when the script is run by hand.
PN_ID=${PODNET_TEST_ID:-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')}
PN_TMP=$(mktemp -d "/tmp/podnet-test.$PN_ID.XXXXXX")
# Namespaces and PIDs are registered in files: helpers run inside $(...) subshells.
: >"$PN_TMP/netns.list"
: >"$PN_TMP/pids.list"

pn_cleanup() {
  local rc=$?
  local pid start ns
  # Exit status 77 means "skipped" to ctest: only pn_skip may give it.
  if [ $rc = 77 ] && [ "${PN_SKIPPED:-0}" != 1 ]; then
    echo "FAIL: exit status 77 without pn_skip (a failure, not a skip)" >&2
    rc=1
  fi
  while read -r pid start; do
    [ "$(pn_start_time "$pid")" = "$start" ] && kill "$pid" 2>/dev/null
  done <"$PN_TMP/pids.list"
  while read -r pid _; do wait "$pid" 2>/dev/null || true; done <"$PN_TMP/pids.list"
  while read -r ns; do ip netns delete "$ns" 2>/dev/null || true; done <"$PN_TMP/netns.list"
  # Mounts below the temp dir (deepest first) would keep rm from removing it.
  awk -v p="$PN_TMP/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$PN_TMP"
  exit $rc
}
trap pn_cleanup EXIT
trap 'exit 130' INT TERM

# pn_netns PREFIX: creates a namespace named PREFIX-<random>, prints its name.
pn_netns() {
  local name
  name="pn$PN_ID-$1-$(wc -l <"$PN_TMP/netns.list")"
  ip netns add "$name"
  echo "$name" >>"$PN_TMP/netns.list"
  ip -n "$name" link set lo up
  echo "$name"
}

# pn_node: a "node" namespace with loopback up and forwarding on, no uplink.
pn_node() {
  local n
  n=$(pn_netns "${1:-node}")
  ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  echo "$n"
}

# pn_start_time PID: the process's start time (clock ticks after boot), empty
# when it is gone: with the PID it names one process, even after PID reuse.
pn_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # fields after the command name, which may hold spaces
  awk '{print $20}' <<<"$stat"
}

# pn_track PID: a process of the test's, ended by PID at cleanup (only while
# it is the same process: its start time is recorded with it).
pn_track() { echo "$1 $(pn_start_time "$1")" >>"$PN_TMP/pids.list"; }

# pn_untrack PID...: processes already waited for, dropped from cleanup's list.
pn_untrack() {
  local keep
  keep=$(awk 'NR == FNR {gone[$1]; next} !($1 in gone)' <(printf '%s\n' "$@") "$PN_TMP/pids.list")
  printf '%s\n' "$keep" | sed '/^$/d' >"$PN_TMP/pids.list"
}

# pn_skip REASON: ends the test as skipped (exit 77), saying why.
pn_skip() {
  echo "SKIP: $*" >&2
  PN_SKIPPED=1
  exit 77
}

pn_fail() { echo "FAIL: $*" >&2; exit 1; }
pn_pass() { echo "ok: $*"; }
pn_expect_eq() {
  [ "$1" = "$2" ] && return 0
  if [[ $1 == *$'\n'* || $2 == *$'\n'* ]]; then
    pn_fail "$3: differs (- expected, + got):"$'\n'"$(diff <(echo "$2") <(echo "$1") | grep '^[<>]' | sed 's/^</-/; s/^>/+/')"
  fi
  pn_fail "$3: expected '$2', got '$1'"
}

# pn_conf NAME JSON: writes a conflist NAME into the test's config dir.
pn_conf() {
  mkdir -p "$PN_TMP/net.d"
  printf '%s\n' "$2" > "$PN_TMP/net.d/$1.conflist"
}

# pn_cni NODE VERB NETNAME PODNS [env...]: runs the libcni client inside NODE.
# Plugins come from the build and the reference set; configs from pn_conf.
pn_cni() {
  local node=$1 verb=$2 net=$3 pod=$4
  shift 4
  ip netns exec "$node" env NETCONFPATH="$PN_TMP/net.d" CNI_PATH="$PODNET_BIN:$REF_CNI" \
    CNI_CACHE_DIR="$PN_TMP/cache" "$@" "$CNITOOL" "$verb" "$net" "/run/netns/$pod"
}

# pn_plugin NODE BINARY CONFIG_JSON env...: execs a plugin directly (no libcni),
# for verbs libcni 1.1 predates (GC, STATUS) and for hostile input.
pn_plugin() {
  local node=$1 bin=$2 conf=$3
  shift 3
  printf '%s' "$conf" | ip netns exec "$node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" "$bin"
}


# pn_state NODE [DIR...]: what a plugin may change on a node, as text: links,
# addresses, routes of every table, and the files below each DIR. Two equal
# snapshots mean nothing was left behind. IPv6 link-local and multicast
# entries are left out: the kernel makes them for every link that is up, on
# its own schedule (after DAD), and the links themselves are compared.
pn_state() {
  local node=$1
  shift
  ip -n "$node" -o link show | awk -F': ' '{print "link", $2}' | sed 's/@.*//' | sort
  ip -n "$node" -o addr show | awk '{print "addr", $2, $4}' | grep -v ' fe80:' | sort
  ip -n "$node" route show table all | sed 's/^/route /' | grep -v -e 'fe80:' -e 'ff00::/8' | sort
  ip -n "$node" -6 route show table all | sed 's/^/route6 /' | grep -v -e 'fe80:' -e 'ff00::/8' | sort
  local d
  for d in "$@"; do
    [ -d "$d" ] && find "$d" -type f ! -name lock ! -name 'last_reserved_ip*' ! -path '*/.podnet-index/*' | sed 's/^/file /' | sort
  done
  return 0
}

# pn_ip RESULT_JSON FAMILY(4|6): the pod's address of that family, without prefix.
pn_ip() {
  local sel='contains(".")'
  [ "$2" = 6 ] && sel='contains(":")'
  jq -r ".ips[] | select(.address | $sel) | .address | split(\"/\")[0]" <<<"$1"
}
