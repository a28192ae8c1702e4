#!/usr/bin/env bash
# The README's test command: installs dependencies, builds with ASan+UBSan,
# and runs every test layer (unit, integration, e2e, runtime) through ctest.
# Every network test runs in namespaces it creates and removes; whatever a
# stopped test left is removed by its ID (tests/lib/run_test.sh), and at the
# end by this run's ID (tests/lib/cleanup.sh), never anything else.
# Ends with the skipped tests and their reasons, and the slowest tests.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-test}
JOBS=${JOBS:-$(nproc)}

bash scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DPODNET_SANITIZE=ON -DPODNET_FAULT_INJECTION=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"
cmake --build "$BUILD" --target format-check

# Bounded fuzzing in CI (or PODNET_FUZZ_CI=1): clang + libFuzzer, ASan/UBSan, 20 s per
# target. Before ctest, so that ctest's summary closes the output.
if [[ "${CI:-}" == true || "${PODNET_FUZZ_CI:-}" == 1 ]]; then
  bash tests/fuzz/run.sh 20
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PODNET_RUN_ID=$(head -c 2 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PODNET_RUN_ID
junit="$PWD/$BUILD/Testing/junit.xml"
rm -f "$junit"
run_cleanup() { bash tests/lib/cleanup.sh "$PODNET_RUN_ID"; }
trap run_cleanup EXIT
trap 'exit 130' INT TERM
echo "test run $PODNET_RUN_ID: namespaces pn$PODNET_RUN_ID*, directories /tmp/podnet-test.$PODNET_RUN_ID*"
rc=0
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --output-junit "$junit" "$@" || rc=$?
[ -f "$junit" ] && python3 scripts/test_summary.py "$junit"
exit $rc
