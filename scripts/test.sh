#!/usr/bin/env bash
# The README's test command: installs dependencies, builds with ASan+UBSan,
# and runs every test layer (unit, integration, e2e, runtime) through ctest.
# Every network test runs in namespaces it creates and removes.
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
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
