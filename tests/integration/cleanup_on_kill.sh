#!/usr/bin/env bash
# A stopped test leaves nothing behind. A victim test script, run by a ctest of
# its own exactly as tests/CMakeLists.txt runs every script (through
# tests/lib/run_test.sh), makes what tests make: namespaces, a process in one,
# a process that left its process group (setsid) inside another, one outside
# any namespace, a process in a cgroup of its ID, a mount below its directory.
# Then it is stopped three ways:
#   1. kill -9 of the script: its EXIT trap never runs; the wrapper removes all.
#   2. its time runs out: the wrapper's `timeout -s TERM` lets the script's own
#      trap remove its namespaces and directory (the wrapper finds those gone)
#      and the wrapper removes the rest.
#   3. Ctrl-C (SIGINT to ctest's process group), then the test command's final
#      cleanup by the run's ID (scripts/test.sh).
# Each time the probe first shows it sees every object, then sees none once
# that ctest has ended.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
command -v ctest >/dev/null || pn_fail "no ctest (cmake is a build dependency)"

cgroot=/sys/fs/cgroup
[ -d $cgroot/pids ] && cgroot=$cgroot/pids # cgroup v1: one hierarchy is enough

# A run ID of the victim's own, sharing no prefix with this test's.
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
new_run_id() {
  local v
  while :; do
    v=$(hex 2)
    [[ $PN_ID == "$v"* ]] && continue
    compgen -G "/run/netns/pn$v*" >/dev/null && continue
    compgen -G "/tmp/podnet-test.$v*" >/dev/null && continue
    echo "$v"
    return
  done
}

cat >"$PN_TMP/victim.sh" <<'EOF'
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"
a=$(pn_netns a)
b=$(pn_netns b)
ip netns exec "$a" sleep 1001 &
pn_track $!
setsid ip netns exec "$b" sleep 1002 </dev/null >/dev/null 2>&1 &
setsid sleep 1003 </dev/null >/dev/null 2>&1 &
cg="$CGROOT/podnet-test-$PN_ID-victim"
mkdir "$cg"
sleep 1004 </dev/null >/dev/null 2>&1 &
echo $! >"$cg/cgroup.procs"
mkdir "$PN_TMP/mnt"
mount -t tmpfs podnet-victim "$PN_TMP/mnt"
echo "$$ $PN_ID" >"$READY.tmp"
mv "$READY.tmp" "$READY"
sleep 1005 &
wait $!
EOF

# probe ID: what carries ID on the machine, one count per kind.
probe() {
  local id=$1 procs=0 p
  for p in /proc/[0-9]*/environ; do
    grep -qsz "^PODNET_TEST_ID=$id" "$p" && procs=$((procs + 1))
  done
  echo "namespaces $(find /run/netns -maxdepth 1 -name "pn$id*" | wc -l)"
  echo "processes $procs"
  echo "cgroups $(find $cgroot -maxdepth 1 -name "podnet-*-$id*" | wc -l)"
  echo "mounts $(awk -v p="/tmp/podnet-test.$id" 'index($2, p) == 1' /proc/mounts | wc -l)"
  echo "directories $(find /tmp -maxdepth 1 -name "podnet-test.$id*" | wc -l)"
}
nothing=$'namespaces 0\nprocesses 0\ncgroups 0\nmounts 0\ndirectories 0'

# stopped HOW LIMIT: runs the victim under a ctest of its own with the wrapper
# given LIMIT seconds, waits until it is ready, checks the probe sees it all,
# stops it HOW (kill9 | timeout | ctrl-c), waits for that ctest to end; sets
# VICTIM_RUN and CTEST_OUT.
stopped() {
  local how=$1 limit=$2 dir rc=0 deadline spid id
  VICTIM_RUN=$(new_run_id)
  dir="$PN_TMP/$how"
  mkdir -p "$dir"
  cat >"$dir/CTestTestfile.cmake" <<EOF
add_test(victim bash $PODNET_SRC/tests/lib/run_test.sh $limit bash $PN_TMP/victim.sh)
set_tests_properties(victim PROPERTIES TIMEOUT $((limit + 60))
  ENVIRONMENT "PODNET_BIN=$PODNET_BIN;PODNET_SRC=$PODNET_SRC;PODNET_RUN_ID=$VICTIM_RUN;READY=$dir/ready;CGROOT=$cgroot")
EOF
  CTEST_OUT="$dir/ctest.out"
  setsid ctest --test-dir "$dir" --output-on-failure >"$CTEST_OUT" 2>&1 &
  local ctest_pid=$!
  pn_track $ctest_pid
  deadline=$((SECONDS + 120))
  until [ -e "$dir/ready" ]; do
    kill -0 $ctest_pid 2>/dev/null || pn_fail "$how: the victim ended before it was ready:"$'\n'"$(cat "$CTEST_OUT")"
    [ $SECONDS -lt $deadline ] || pn_fail "$how: the victim was not ready in 120 s"
    sleep 0.1
  done
  read -r spid id <"$dir/ready"
  [[ $id == "$VICTIM_RUN"* ]] || pn_fail "$how: the victim's ID $id does not begin with its run's $VICTIM_RUN"
  # Five sleeps, the script and its timeout carry the ID.
  pn_expect_eq "$(probe "$VICTIM_RUN" | sed -E 's/^processes ([5-9]|[1-9][0-9]+)$/processes 5+/')" \
    $'namespaces 2\nprocesses 5+\ncgroups 1\nmounts 1\ndirectories 1' "$how: the probe sees the victim's objects"
  case $how in
  kill9) kill -KILL "$spid" ;;
  timeout) ;; # the wrapper's limit ends it
  ctrl-c) kill -INT -- -$ctest_pid ;;
  esac
  wait $ctest_pid || rc=$?
  [ $rc != 0 ] || pn_fail "$how: ctest passed a stopped test:"$'\n'"$(cat "$CTEST_OUT")"
}

stopped kill9 120
pn_expect_eq "$(probe "$VICTIM_RUN")" "$nothing" "after kill -9 of the test script and the end of its ctest"
grep -q "cleanup $VICTIM_RUN[0-9a-f]*: netns" "$CTEST_OUT" ||
  pn_fail "the wrapper did not report the namespaces it removed:"$'\n'"$(cat "$CTEST_OUT")"
pn_pass "kill -9 of a test script: its namespaces, processes, cgroup, mount and directory are gone when ctest ends"

stopped timeout 8
pn_expect_eq "$(probe "$VICTIM_RUN")" "$nothing" "after the test ran out of time"
grep -q "TIMEOUT: .* ran out of its 8 s" "$CTEST_OUT" || pn_fail "no TIMEOUT line:"$'\n'"$(cat "$CTEST_OUT")"
# The script's own trap ran (TERM, not KILL): the wrapper found its namespaces
# and directory already gone, and removed only what the trap does not track.
if grep -E "cleanup $VICTIM_RUN[0-9a-f]*: (netns|directory)" "$CTEST_OUT"; then
  pn_fail "the script's trap did not run when its time ran out (above: the wrapper removed them)"
fi
grep -q "cleanup $VICTIM_RUN[0-9a-f]*: processes" "$CTEST_OUT" ||
  pn_fail "the wrapper did not report the untracked processes:"$'\n'"$(cat "$CTEST_OUT")"
pn_pass "a test out of time: TERM runs its trap, the wrapper ends its untracked processes"

stopped ctrl-c 120
bash "$PODNET_SRC/tests/lib/cleanup.sh" "$VICTIM_RUN" 2>>"$CTEST_OUT" # as scripts/test.sh ends
pn_expect_eq "$(probe "$VICTIM_RUN")" "$nothing" "after Ctrl-C and the run's final cleanup"
pn_pass "Ctrl-C: nothing of the run is left after its final cleanup"
