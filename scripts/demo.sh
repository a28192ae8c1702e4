#!/usr/bin/env bash
# The README's first command: installs dependencies, builds podnet, and runs a
# two-node cluster in network namespaces (scripts/cluster-demo.sh): podnetd on
# each node writes the CNI config and routes the other node's pod CIDRs, a Pod
# on each node gets its IPs through the real libcni, and the Pods ping each
# other across nodes (IPv4 and IPv6). Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bash scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target podnet podnet-ipam podnetd cnitool >/dev/null
PODNET_BIN=$PWD/$BUILD/bin exec bash scripts/cluster-demo.sh
