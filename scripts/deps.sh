#!/usr/bin/env bash
# Installs everything podnet needs to build and test, by Debian package name.
# Idempotent: runs `apt-get update` only when a package is missing.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make pkg-config git
  libnl-3-dev libnl-route-3-dev libnftables-dev nlohmann-json3-dev libcli11-dev libfmt-dev libboost-dev doctest-dev
  clang-format
  # bounded fuzzing in CI: clang with libFuzzer
  clang libclang-rt-14-dev
  # tests: kernel tools, the reference plugins (our peers), the real libcni for the test client
  iproute2 iputils-ping jq procps util-linux iptables nftables curl
  # systemd-analyze verify checks the unit file (install.sh)
  systemd
  containernetworking-plugins golang-go golang-github-appc-cni-dev
  # podnetd's cluster sources: TLS for the Kubernetes API; etcd 3.4 as the real store in tests
  libssl-dev libyaml-cpp-dev etcd-server etcd-client
  # real runtimes in tests: podman's CNI backend, containerd's CRI (Go client over grpc), a static busybox rootfs
  podman runc containerd busybox-static golang-google-grpc-dev golang-google-protobuf-dev
  # the DaemonSet manifest check
  python3 python3-yaml
)

[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (apt-get install)" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # One line on the screen; apt's own output goes to a log shown only on failure.
  log=$(mktemp /tmp/podnet-deps.XXXXXX.log)
  echo "deps.sh: installing ${#missing[@]} Debian packages (${missing[*]}); apt's log: $log"
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as containerd and etcd-server start a service when installed;
  # the tests start their own, inside namespaces. policy-rc.d tells the
  # maintainer scripts not to start anything on this machine.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 755 "$guard"
    trap 'rm -f "$guard"' EXIT
  fi
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "deps.sh: apt-get failed; the whole log is $log" >&2
    exit 1
  fi
  rm -f "$log"
fi
