#!/usr/bin/env bash
# A doctest binary whose cases cannot be listed registers a failing test, not
# zero tests (tests/doctest_list.cmake): a binary that exits non-zero, and one
# that lists no case, each give a ctest run that fails and says why; the real
# unit test binary gives one test per case.
set -euo pipefail
source "$PODNET_SRC/tests/lib/common.sh"

# listed NAME EXE: runs the listing script for EXE into its own ctest dir; prints
# ctest's exit status and the number of tests it ran.
listed() {
  local dir="$PN_TMP/$1" rc=0
  mkdir -p "$dir"
  cmake -D EXE="$2" -D OUT="$dir/CTestTestfile.cmake" -D LABEL=unit -P "$PODNET_SRC/tests/doctest_list.cmake"
  ctest --test-dir "$dir" --output-on-failure >"$dir/out" 2>&1 || rc=$?
  echo "rc=$rc tests=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#' "$dir/out")"
}

printf '#!/bin/sh\necho "[doctest] unskipped test cases passing the current filters: 0"\n' >"$PN_TMP/empty.sh"
chmod +x "$PN_TMP/empty.sh"

pn_expect_eq "$(listed false /bin/false)" "rc=8 tests=1" "a binary that cannot list its cases"
grep -q "FAIL: /bin/false --list-test-cases: exit 1" "$PN_TMP/false/out" || pn_fail "no reason printed: $(cat "$PN_TMP/false/out")"
pn_expect_eq "$(listed empty "$PN_TMP/empty.sh")" "rc=8 tests=1" "a binary that lists no case"
n=$("$PODNET_BIN/../tests/podnet_unit_tests" --list-test-cases --no-version | awk '/passing the current filters/ {print $NF}')
[ "$n" -gt 0 ] || pn_fail "the unit binary lists no case"
pn_expect_eq "$(grep -c '^add_test' < <(cmake -D EXE="$PODNET_BIN/../tests/podnet_unit_tests" -D OUT=/dev/stdout \
  -D LABEL=unit -P "$PODNET_SRC/tests/doctest_list.cmake"))" "$n" "tests registered for the unit binary's cases"
pn_pass "an unlistable or empty doctest binary fails the run; the unit binary's $n cases are $n tests"
