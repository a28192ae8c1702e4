#!/usr/bin/env bash
# Crashes at the worst instants: podnet-ipam is SIGKILLed right before each of
# its renames (a lease written to its temporary file, not yet in place) through
# a tiny LD_PRELOAD shim. Every earlier lease survives, the leftover temporary
# file is swept, and the runtime's retry returns a consistent answer. Also: a
# garbled last_reserved_ip (it is rewritten in place, as host-local does) is
# only a lost hint.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

node=$(pn_node node)
data="$PN_TMP/data"
conf='{"cniVersion":"1.0.0","name":"crash","type":"ptp","ipam":{"type":"podnet-ipam","dataDir":"'"$data"'",
  "ranges":[[{"subnet":"10.88.0.0/24"}],[{"subnet":"fd88::/64"}]]}}'

cat >"$PN_TMP/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
static int calls;
static void maybeCrash(void) {
  const char* at = getenv("CRASH_AT_RENAME");
  if (at && ++calls == atoi(at)) raise(SIGKILL);
}
int renameat(int a, const char* b, int c, const char* d) {
  maybeCrash();
  int (*real)(int, const char*, int, const char*) = dlsym(RTLD_NEXT, "renameat");
  return real(a, b, c, d);
}
int renameat2(int a, const char* b, int c, const char* d, unsigned f) {
  maybeCrash();
  int (*real)(int, const char*, int, const char*, unsigned) = dlsym(RTLD_NEXT, "renameat2");
  return real(a, b, c, d, f);
}
C
cc -shared -fPIC -o "$PN_TMP/shim.so" "$PN_TMP/shim.c" -ldl || pn_fail "cannot build the crash shim"

# add ID [CRASH_AT]: prints stdout; returns the exit status (137 when killed).
add() {
  local envs=(CNI_COMMAND=ADD CNI_CONTAINERID="$1" CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH="$PODNET_BIN")
  [ -n "${2:-}" ] && envs+=(LD_PRELOAD="$PN_TMP/shim.so" CRASH_AT_RENAME="$2" ASAN_OPTIONS=verify_asan_link_order=0)
  pn_plugin "$node" "$PODNET_BIN/podnet-ipam" "$conf" "${envs[@]}" 2>/dev/null
}
lease_of() { grep -lx -e "$1"$'\r' -e "$1" "$data/crash"/[0-9a-f]*[.:]* 2>/dev/null | xargs -rn1 basename | sort | tr '\n' ' '; }
temps() { ls -A "$data/crash/.podnet-tmp" | wc -l; }
snapshot() { (cd "$data/crash" && grep -H . -- [0-9a-f]*[.:]* | tr -d '\r' | sort); }

add base >/dev/null || pn_fail "first ADD"
pn_expect_eq "$(lease_of base)" "10.88.0.2 fd88::2 " "base leases"

# 1: killed before the first lease's rename: nothing leased, a temp file left.
before=$(snapshot)
set +e; add c1 1 >/dev/null; rc=$?; set -e
pn_expect_eq "$rc" 137 "ADD killed at rename 1"
pn_expect_eq "$(temps)" 1 "temporary files after the crash"
pn_expect_eq "$(snapshot)" "$before" "leases after a crash before any rename"
out=$(add c1)
pn_expect_eq "$(jq -r '[.ips[].address] | join(" ")' <<<"$out")" "10.88.0.3/24 fd88::3/64" "retry after crash 1"
pn_expect_eq "$(temps)" 0 "temporary files after the retry"
pn_pass "crash between write and rename of a lease: nothing half-written, retry clean"

# 2: killed before the IPv6 lease's rename (the 2nd): the IPv4 half survives,
# and last_reserved_ip.0 (rewritten in place, no rename) already names it.
set +e; add c2 2 >/dev/null; rc=$?; set -e
pn_expect_eq "$rc" 137 "ADD killed at rename 2"
pn_expect_eq "$(lease_of c2)" "10.88.0.4 " "the IPv4 lease written before the crash survives"
pn_expect_eq "$(tr -d '\n' <"$data/crash/last_reserved_ip.0")" "10.88.0.4" "last_reserved_ip.0 names the surviving lease"
out=$(add c3)
pn_expect_eq "$(jq -r '[.ips[].address] | join(" ")' <<<"$out")" "10.88.0.5/24 fd88::4/64" "the orphan's address is not handed out again"
out=$(add c2)
pn_expect_eq "$(jq -r '[.ips[].address] | join(" ")' <<<"$out")" "10.88.0.4/24 fd88::5/64" "retry keeps the surviving lease"
for id in base c1 c2 c3; do
  pn_expect_eq "$(lease_of "$id" | wc -w)" 2 "leases of $id"
done
pn_expect_eq "$(temps)" 0 "temporary files at the end"
pn_pass "crash mid dual-stack ADD: no lease lost or given twice, retry completes"

# 3: a last_reserved_ip garbled (a kill in the middle of its in-place write)
# is no hint at all: the search starts at the range's start, skipping leases.
printf '10.88.0.\001zz' >"$data/crash/last_reserved_ip.0"
out=$(add c5)
pn_expect_eq "$(jq -r '.ips[0].address' <<<"$out")" "10.88.0.6/24" "ADD after a garbled last_reserved_ip"
pn_expect_eq "$(tr -d '\n' <"$data/crash/last_reserved_ip.0")" "10.88.0.6" "last_reserved_ip.0 rewritten whole"
pn_pass "garbled last_reserved_ip: a lost hint, no error, no address given twice"
