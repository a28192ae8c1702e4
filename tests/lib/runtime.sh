# Helpers for tests that drive real container runtimes (tests/runtime/*.sh) and
# their benchmarks. Sourcing only defines functions, so it may come before
# tests/lib/common.sh: pn_runtime_private_mounts must run before common.sh;
# everything else is called after it.
#
# Runtimes run inside a node namespace with `nsenter --net=/run/netns/NODE`,
# not `ip netns exec`: the latter remounts /sys in a mount namespace of its
# own, which hides the cgroup filesystem that runc needs.

# pn_in_node NODE CMD...: runs CMD with NODE as its network namespace only
# (mounts, cgroups and PID namespace stay the caller's).
pn_in_node() {
  local node=$1
  shift
  nsenter --net="/run/netns/$node" "$@"
}

# pn_busybox_rootfs DIR: a minimal root filesystem in DIR, built offline from
# the statically linked /bin/busybox of Debian's busybox-static: one applet
# symlink per applet in /bin, root and nobody in /etc/passwd and /etc/group,
# empty mount points for what a runtime mounts (proc, sys, dev, tmp, run), and
# empty /etc/hosts, /etc/resolv.conf and /etc/hostname that runtimes bind over.
pn_busybox_rootfs() {
  local dir=$1 bb=${PN_BUSYBOX:-/bin/busybox} applet linkage
  linkage=$(LC_ALL=C ldd "$bb" 2>&1 || true)
  [[ -x $bb && ($linkage == *"not a dynamic executable"* || $linkage == *"statically linked"*) ]] ||
    pn_fail "$bb is not a static busybox (install busybox-static)"
  mkdir -p "$dir"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,var/run}
  chmod 1777 "$dir/tmp"
  cp "$bb" "$dir/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  # For scripts that name /sbin/ip.
  ln -sf ../bin/busybox "$dir/sbin/ip"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  : >"$dir/etc/hosts"
  : >"$dir/etc/resolv.conf"
  : >"$dir/etc/hostname"
  [ -x "$dir/bin/sh" ] && [ -x "$dir/bin/ping" ] && [ -x "$dir/bin/ip" ] ||
    pn_fail "busybox rootfs in $dir lacks sh, ping or ip"
}

# pn_ptp_conflist NAME SUBNET DATADIR [PLUGIN...]: the reference ptp +
# host-local conflist of the same shape as podnet's (one range, a default
# route, leases in DATADIR), with extra plugin JSON objects chained after it.
pn_ptp_conflist() {
  local name=$1 subnet=$2 data=$3 extra=""
  shift 3
  local p
  for p in "$@"; do extra+=", $p"; done
  printf '{"cniVersion": "1.0.0", "name": "%s", "plugins": [
  {"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "%s"}]],
   "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "%s"}}%s]}\n' "$name" "$subnet" "$data" "$extra"
}

# pn_podnet_conflist NAME SUBNET DATADIR [PLUGIN...]: podnet with its in-process
# IPAM, one IPv4 range, leases in DATADIR, extra plugins chained after it.
pn_podnet_conflist() {
  local name=$1 subnet=$2 data=$3 extra=""
  shift 3
  local p
  for p in "$@"; do extra+=", $p"; done
  printf '{"cniVersion": "1.0.0", "name": "%s", "plugins": [
  {"type": "podnet", "ipam": {"type": "podnet-ipam", "ranges": [[{"subnet": "%s"}]],
   "dataDir": "%s"}}%s]}\n' "$name" "$subnet" "$data" "$extra"
}

# --- Private mounts -------------------------------------------------------
#
# pn_runtime_private_mounts "$0" "$@": call at the very top of a runtime test,
# before sourcing common.sh. Re-executes the test in a mount namespace of its
# own (propagation slave: the machine's mounts are seen, the test's are not
# seen outside), so that pn_runtime_sandbox can redirect the paths a runtime
# writes and that no configuration moves (libcni's cache in /var/lib/cni) into
# the test's temp dir. Namespaces the test creates live in the same mount
# namespace, so every command of the test sees them.
pn_runtime_private_mounts() {
  [ -n "${PN_PRIVATE_MOUNTS:-}" ] && return 0
  [ "$(id -u)" = 0 ] || return 0 # common.sh skips
  command -v unshare >/dev/null || { echo "SKIP: needs unshare (util-linux)" >&2; exit 77; }
  PN_PRIVATE_MOUNTS=1 exec unshare --mount --propagation slave -- bash "$@"
}

# pn_runtime_sandbox: (after common.sh, inside pn_runtime_private_mounts) lays
# an overlay over /var/lib whose upper layer is $PN_TMP/varlib/upper: whatever
# a runtime writes below /var/lib (libcni's cache /var/lib/cni/results, a
# stray /var/lib/containers) lands there, where the test can see it, and
# vanishes with the test. Installs the EXIT trap that runs pn_runtime_cleanup
# hooks (PN_RUNTIME_CLEANUP, a list of commands) before common.sh's cleanup.
PN_VARLIB_UPPER=""
PN_RUNTIME_CLEANUP=()
pn_runtime_sandbox() {
  [ -n "${PN_PRIVATE_MOUNTS:-}" ] || pn_fail "pn_runtime_sandbox outside pn_runtime_private_mounts"
  mkdir -p "$PN_TMP/varlib/upper" "$PN_TMP/varlib/work"
  mount -t overlay overlay \
    -o "lowerdir=/var/lib,upperdir=$PN_TMP/varlib/upper,workdir=$PN_TMP/varlib/work" /var/lib
  PN_VARLIB_UPPER=$PN_TMP/varlib/upper
  PN_VARLIB_MOUNTED=1
  trap pn_runtime_cleanup EXIT
}

PN_VARLIB_MOUNTED=0
pn_runtime_cleanup() {
  local rc=$? c
  set +e
  for c in "${PN_RUNTIME_CLEANUP[@]}"; do eval "$c"; done
  pn_runtime_unsandbox
  (exit $rc)
  pn_cleanup
}

# pn_runtime_unsandbox: removes the /var/lib overlay (its upper layer stays
# readable for pn_varlib_written), so that the machine's own /var/lib is seen.
pn_runtime_unsandbox() {
  [ "$PN_VARLIB_MOUNTED" = 1 ] || return 0
  umount /var/lib && PN_VARLIB_MOUNTED=0
}

# pn_varlib_written: the files and directories a runtime wrote below /var/lib
# (paths relative to /var/lib, sorted).
pn_varlib_written() { (cd "$PN_VARLIB_UPPER" && find . -mindepth 1 | sed 's|^\./||' | sort); }

# --- podman ---------------------------------------------------------------
#
# pn_podman_setup NODE NETCONFDIR: a podman of the test's own, run in NODE,
# with nothing on the machine shared: containers.conf named by CONTAINERS_CONF (CNI backend,
# plugins from the build and /usr/lib/cni, networks from NETCONFDIR, cgroupfs,
# file events and locks, tmp dir in $PN_TMP/podman), storage (vfs) in
# $PN_TMP/podman, and a cgroup parent of the test's own that cleanup removes.
# Nothing reaches /var/lib/containers, /run/containers, /run/libpod or
# /dev/shm/libpod_lock. podman's exit command (`podman container cleanup`,
# run by conmon) inherits CONTAINERS_CONF and the --root/--runroot flags, so
# it finds the same database; a static_dir apart from --root would split them
# and make every `podman run` wait 20 s for conmon.
PN_PODMAN_DIR=""
PN_PODMAN_CGROUP=""
PN_PODMAN_NODE=""
pn_podman_setup() {
  PN_PODMAN_NODE=$1
  local netconf=$2
  PN_PODMAN_DIR=$PN_TMP/podman
  PN_PODMAN_CGROUP=podnet-test-$PN_ID-$$
  mkdir -p "$PN_PODMAN_DIR"
  # nproc: podman asks for 4194304 by default, above what an unprivileged
  # RLIMIT_NPROC may rise to (no CAP_SYS_RESOURCE in some sandboxes).
  cat >"$PN_PODMAN_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[network]
network_backend = "cni"
cni_plugin_dirs = ["$PODNET_BIN", "$REF_CNI"]
network_config_dir = "$netconf"
default_network = "podnet"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PN_PODMAN_DIR/events.log"
tmp_dir = "$PN_PODMAN_DIR/tmp"
volume_path = "$PN_PODMAN_DIR/volumes"
lock_type = "file"
runtime = "runc"
CONF
  export CONTAINERS_CONF=$PN_PODMAN_DIR/containers.conf
  # No storage.conf of the machine's is read either; the same paths are also
  # given as flags (pn_podman), which podman forwards to its exit command.
  printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' \
    "$PN_PODMAN_DIR/root" "$PN_PODMAN_DIR/runroot" >"$PN_PODMAN_DIR/storage.conf"
  export CONTAINERS_STORAGE_CONF=$PN_PODMAN_DIR/storage.conf
  PN_RUNTIME_CLEANUP+=(pn_podman_cleanup)
}

# pn_podman NODE ARGS...: podman inside NODE's network namespace, with the
# test's storage; PN_PODMAN_NETCONF, if set, replaces network_config_dir.
pn_podman() {
  local node=$1
  shift
  pn_in_node "$node" podman --root "$PN_PODMAN_DIR/root" --runroot "$PN_PODMAN_DIR/runroot" \
    --storage-driver vfs ${PN_PODMAN_NETCONF:+--network-config-dir "$PN_PODMAN_NETCONF"} "$@"
}

# pn_podman_run NODE ARGS...: `podman run` with the test's cgroup parent.
pn_podman_run() {
  local node=$1
  shift
  pn_podman "$node" run --cgroup-parent "/$PN_PODMAN_CGROUP" "$@"
}

# pn_podman_cgroups: the test's cgroup directories (every v1 hierarchy, or v2).
pn_podman_cgroups() {
  find /sys/fs/cgroup -maxdepth 2 -type d -name "$PN_PODMAN_CGROUP" 2>/dev/null
  return 0
}

# pn_podman_cleanup: removes every container of the test's podman (conmon and
# runc processes end with them), then the test's cgroup directories. podman
# runs in the node, whose namespace still exists (common.sh deletes it after):
# the plugins' DEL must never run in the machine's own namespace, so nothing
# runs when the node is gone.
pn_podman_cleanup() {
  [ -d "$PN_PODMAN_DIR/root" ] && [ -e "/run/netns/$PN_PODMAN_NODE" ] &&
    pn_podman "$PN_PODMAN_NODE" rm -af -t 0 >/dev/null 2>&1
  local d
  for d in $(pn_podman_cgroups); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  return 0
}
