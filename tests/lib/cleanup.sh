#!/usr/bin/env bash
# Removes what the tests of one ID left on the machine, and nothing else:
#   bash tests/lib/cleanup.sh ID
# ID is a test's PODNET_TEST_ID (tests/lib/run_test.sh) or a run's
# PODNET_RUN_ID (scripts/test.sh), which begins every test ID of that run.
# What carries the ID:
#   processes    PODNET_TEST_ID=ID... in their environment (inherited from the
#                wrapper), or inside a network namespace or cgroup below
#   namespaces   /run/netns/pnID*                (tests/lib/common.sh pn_netns)
#   cgroups      /sys/fs/cgroup/[*/]podnet-*-ID*  (runtime tests' cgroup parents)
#   directories  /tmp/podnet-test.ID*, and any mount below them
# Processes are ended by PID (TERM, then KILL after a grace period). Prints one
# line per object removed to stderr; exits 0 unless ID is malformed.
set -uo pipefail

id=${1:-}
[[ $id =~ ^[0-9a-f]{4,16}$ ]] || { echo "cleanup.sh: bad ID '$id'" >&2; exit 2; }

say() { echo "cleanup $id: $*" >&2; }

# The PIDs carrying the ID, one per line (never this script or its parents).
tagged_pids() {
  local p ns
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] || [ "$p" = $BASHPID ] && continue
    grep -qsz "^PODNET_TEST_ID=$id" "/proc/$p/environ" && echo "$p"
  done
  for ns in /run/netns/pn"$id"*; do
    [ -e "$ns" ] && ip netns pids "${ns##*/}" 2>/dev/null
  done
  local cg
  for cg in $(cgroups); do cat "$cg/cgroup.procs" 2>/dev/null; done
  # Descendants of a cgroup's subtree (v2: cgroup.procs is per directory).
  for cg in $(cgroups); do find "$cg" -mindepth 2 -name cgroup.procs -exec cat {} + 2>/dev/null; done
  return 0
}
cgroups() { find /sys/fs/cgroup -maxdepth 2 -type d -name "podnet-*-$id*" 2>/dev/null; return 0; }

end_processes() {
  local pids round
  for round in TERM TERM KILL KILL; do
    pids=$(tagged_pids | grep -vx -e "$$" -e "$PPID" | sort -u)
    [ -n "$pids" ] || return 0
    [ $round = TERM ] && [ -z "${said_pids:-}" ] && { say "processes $(echo $pids)"; said_pids=1; }
    kill -"$round" $pids 2>/dev/null
    sleep 1
  done
  pids=$(tagged_pids | sort -u)
  [ -z "$pids" ] || say "processes still alive: $(echo $pids)"
}

end_processes

# Mounts below the test's directories, deepest first.
awk -v pre="/tmp/podnet-test.$id" 'index($2, pre) == 1 {print $2}' /proc/mounts | sort -r |
  while read -r m; do say "mount $m"; umount -l "$m" 2>/dev/null; done

for ns in /run/netns/pn"$id"*; do
  [ -e "$ns" ] || continue
  say "netns ${ns##*/}"
  ip netns delete "${ns##*/}" 2>/dev/null || { umount -l "$ns" 2>/dev/null; rm -f "$ns"; }
done

for cg in $(cgroups); do
  say "cgroup $cg"
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
done

for d in /tmp/podnet-test."$id"*; do
  [ -e "$d" ] || continue
  say "directory $d"
  rm -rf "$d"
done
exit 0
