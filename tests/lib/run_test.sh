#!/usr/bin/env bash
# How ctest runs a test script:  run_test.sh SECONDS COMMAND [ARGS...]
#
# - Gives the test an ID, PODNET_TEST_ID = PODNET_RUN_ID (the run's, from
#   scripts/test.sh; made up here when absent) + 6 hex digits. common.sh names
#   the test's namespaces pn<ID>-* and its directory /tmp/podnet-test.<ID>.*.
# - Runs COMMAND under `timeout -s TERM SECONDS`: ctest's own timeout (a
#   little longer, see tests/CMakeLists.txt) sends SIGKILL, which no EXIT trap
#   survives; TERM lets the test's trap clean up. INT and TERM sent to this
#   wrapper (Ctrl-C, a stopped ctest) are passed on the same way.
# - Then removes whatever still carries the ID (tests/lib/cleanup.sh): what a
#   test killed with SIGKILL, or a broken trap, left behind.
# Exit status: COMMAND's; 124 when it ran out of time.
set -uo pipefail

limit=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export PODNET_RUN_ID=${PODNET_RUN_ID:-$(hex 2)}
export PODNET_TEST_ID=$PODNET_RUN_ID$(hex 3)

timeout -s TERM -k 30 "$limit" "$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' INT TERM
rc=0
while :; do
  wait $child
  rc=$?
  # A trapped signal interrupts wait with a status above 128 while the child
  # still runs: wait again for its real status.
  kill -0 $child 2>/dev/null || break
done
trap - INT TERM
[ $rc = 124 ] && echo "TIMEOUT: $* ran out of its $limit s" >&2

env -u PODNET_TEST_ID bash "$here/cleanup.sh" "$PODNET_TEST_ID"
exit $rc
