# Helpers for tests that drive containerd through its CRI socket: source after
# tests/lib/common.sh (and cluster.sh when a cluster is used).
#
# containerd runs inside a node namespace (nsenter --net, so that the cgroup
# filesystem stays visible) and inside a mount namespace of its own, with a
# config of the test's: root, state, sockets, runc root and the CNI dirs in the
# test's temp dir. containerd 1.6 hard-codes two host paths: the shim sockets
# (/run/containerd/s) and libcni's cache (/var/lib/cni). In its mount
# namespace a tmpfs covers /run and /var/lib, with the machine's /run/netns
# bound back (same peer group, so the Pods' netns mounts show on the machine)
# and the test's own dir bound on /var/lib/cni. Nothing of the machine's
# /run/containerd, /var/lib/containerd or /var/lib/cni is touched. Pods get a
# cgroup parent of the test's, removed at the end. Every process is ended by
# PID: containerd, then the sandboxes' and shims' PIDs found in its state dir.

CRI_CLIENT=${CRI_CLIENT:-$PODNET_BIN/cri}
CRI_IMAGE=podnet.test/pause:1
CRI_CGROUP="podnet-cri-$PN_ID"
: >"$PN_TMP/cri.dirs"
: >"$PN_TMP/cri.pids"

# cri_image TARBALL: the sandbox ("pause") image as a docker archive, built
# offline: a busybox-static rootfs whose entrypoint sleeps forever.
cri_image() {
  local out=$1 w
  w=$(mktemp -d "$PN_TMP/image.XXXXXX")
  mkdir -p "$w/rootfs/bin" "$w/rootfs/etc" "$w/rootfs/proc" "$w/rootfs/sys" "$w/rootfs/dev" "$w/rootfs/tmp"
  cp /bin/busybox "$w/rootfs/bin/busybox"
  local applet
  for applet in sh sleep ping ip cat; do ln -s busybox "$w/rootfs/bin/$applet"; done
  tar -C "$w/rootfs" --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -cf "$w/layer.tar" .
  local diff
  diff=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
  jq -nc --arg d "sha256:$diff" '{architecture: "amd64", os: "linux",
    config: {Entrypoint: ["/bin/sleep", "2147483647"], WorkingDir: "/"},
    rootfs: {type: "layers", diff_ids: [$d]}}' >"$w/config.json"
  local cfg
  cfg=$(sha256sum "$w/config.json" | cut -d' ' -f1)
  mv "$w/config.json" "$w/$cfg.json"
  jq -nc --arg c "$cfg.json" --arg t "$CRI_IMAGE" '[{Config: $c, RepoTags: [$t], Layers: ["layer.tar"]}]' >"$w/manifest.json"
  tar -C "$w" -cf "$out" manifest.json "$cfg.json" layer.tar
  rm -rf "$w"
}

# cri_bin_dir DIR: the CNI bin dir for containerd: podnet and podnet-ipam from
# the build, plus the reference loopback, which containerd's CRI brings up in
# every Pod before the network's plugins (it looks in bin_dir only). Prints DIR.
cri_bin_dir() {
  mkdir -p "$1"
  ln -sf "$PODNET_BIN/podnet" "$PODNET_BIN/podnet-ipam" "$REF_CNI/loopback" "$1/"
  echo "$1"
}

# cri_snapshotter: overlayfs where an overlay mount works on the temp dir's
# filesystem (probed in a throwaway mount namespace; not on overlay-on-overlay,
# as in some CI containers), else native. CRI_SNAPSHOTTER in the environment wins.
cri_snapshotter() {
  [ -n "${CRI_SNAPSHOTTER:-}" ] && { echo "$CRI_SNAPSHOTTER"; return; }
  local p="$PN_TMP/overlay-probe"
  mkdir -p "$p/lower" "$p/upper" "$p/work" "$p/merged"
  if unshare --mount --propagation private mount -t overlay podnet-probe \
    -o "lowerdir=$p/lower,upperdir=$p/upper,workdir=$p/work" "$p/merged" 2>/dev/null; then
    echo overlayfs
  else
    echo native
  fi
  rm -rf "$p"
}

# cri_containerd NODE DIR CNI_BIN_DIR CNI_CONF_DIR: starts containerd in NODE
# with its dirs below DIR (tracked; log DIR/containerd.log), waits for its
# socket and imports the sandbox image. Sets CRI_SOCK, CRI_PID and
# CRI_SNAPSHOTTER (the one probed on first use); call it in
# the test's shell, not in $(...).
cri_containerd() {
  local node=$1 d=$2 bin=$3 conf=$4 snap
  snap=$(cri_snapshotter)
  CRI_SNAPSHOTTER=$snap
  mkdir -p "$d/root" "$d/state" "$d/cni-cache"
  echo "$d" >>"$PN_TMP/cri.dirs"
  CRI_SOCK="$d/containerd.sock"
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$CRI_SOCK"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # Sandboxes ask for oom_score_adj -998; a machine (or CI container) may not
  # let us go below our own value: cap it there.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snap"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${CRI_RUNC:-runc}" # CRI_RUNC: e.g. a wrapper that keeps runc's log
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$bin"
    conf_dir = "$conf"
    max_conf_num = 1
EOF
  # The mount namespace is made with propagation unchanged: /run/netns stays a
  # peer of the machine's. Only the mounts holding /run, /var/lib and DIR are
  # made private (in this namespace's copy), so nothing mounted on them here
  # propagates to the machine.
  # shellcheck disable=SC2016
  local setup='set -e
    d=$1
    for p in /run /var/lib "$d"; do mount --make-private "$(findmnt -n -o TARGET -T "$p")"; done
    mkdir "$d/netns"
    mount --bind /run/netns "$d/netns"
    mount -t tmpfs -o mode=755 podnet-cri /run
    mkdir /run/netns /run/containerd
    mount --move "$d/netns" /run/netns
    mount -t tmpfs -o mode=755 podnet-cri /var/lib
    mkdir /var/lib/cni
    mount --bind "$d/cni-cache" /var/lib/cni
    exec containerd --config "$d/config.toml"'
  nsenter --net="/run/netns/$node" unshare --mount --propagation unchanged \
    bash -c "$setup" cri-mountns "$d" </dev/null >"$d/containerd.log" 2>&1 &
  CRI_PID=$!
  pn_track "$CRI_PID"
  echo "$CRI_PID" >>"$PN_TMP/cri.pids"
  local deadline=$((SECONDS + 20))
  until "$CRI_CLIENT" -a "$CRI_SOCK" -t 2s version >/dev/null 2>&1; do
    kill -0 "$CRI_PID" 2>/dev/null || pn_fail "containerd exited: $(tail -5 "$d/containerd.log")"
    [ $SECONDS -lt $deadline ] || pn_fail "containerd not ready: $(tail -5 "$d/containerd.log")"
    sleep 0.1
  done
  [ -f "$PN_TMP/pause.tar" ] || cri_image "$PN_TMP/pause.tar"
  ctr -a "$CRI_SOCK" -n k8s.io images import --snapshotter "$snap" "$PN_TMP/pause.tar" >/dev/null ||
    pn_fail "ctr images import"
}

# cri ARGS...: the CRI client against the current CRI_SOCK, Pods under the test's cgroup.
cri() { "$CRI_CLIENT" -a "$CRI_SOCK" -p "/$CRI_CGROUP" "$@"; }

# cri_runp NAME: runs a Pod sandbox, prints {"id", "ms"}. Its netns is
# registered for cleanup as soon as RunPodSandbox returns (cri_status), before
# anything else can fail; a RunPodSandbox that fails removes its own netns.
cri_runp() {
  local out
  out=$(cri runp "$1" "uid-$1-$PN_ID" podnet-test) || return
  cri_status "$(jq -r .id <<<"$out")" >/dev/null || return
  echo "$out"
}

# cri_status ID: PodSandboxStatus as JSON (see tests/cri/main.go); registers the netns for cleanup.
cri_status() {
  local st ns
  st=$(cri status "$1")
  ns=$(jq -r .netns <<<"$st")
  [[ $ns == /var/run/netns/* || $ns == /run/netns/* ]] && basename "$ns" >>"$PN_TMP/netns.list"
  echo "$st"
}

# cri_stop_all: ends every containerd of the test (SIGTERM, by PID), waits for
# it, and removes the Pods' parent cgroup, which is empty once every Pod is
# removed (a Pod cgroup left inside keeps it, and cri_host_leftovers shows it).
cri_stop_all() {
  local pid d
  while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$PN_TMP/cri.pids"
  while read -r pid; do wait "$pid" 2>/dev/null || true; done <"$PN_TMP/cri.pids"
  for d in $(cri_cgroups); do rmdir "$d" 2>/dev/null || true; done
  return 0
}

# cri_cgroups: the Pods' parent cgroup dirs that exist (cgroup v1: one per
# hierarchy; v2: one).
cri_cgroups() {
  local d
  for d in /sys/fs/cgroup/"$CRI_CGROUP" /sys/fs/cgroup/*/"$CRI_CGROUP"; do
    [ -d "$d" ] && echo "$d"
  done
  return 0
}

# cri_shims DIR: PIDs of the shims of the containerd whose dirs are below DIR.
cri_shims() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q "containerd-shim.* -address $1/containerd.sock " &&
      basename "$(dirname "$f")"
  done
  return 0
}

# cri_host_leftovers: what of containerd's could be left on the machine: its
# host paths, mounts below the test's dir (in this mount namespace), the
# test's cgroups. Empty when nothing is left.
cri_host_leftovers() {
  local p
  for p in /run/containerd /var/lib/containerd /var/lib/cni /opt/containerd; do
    [ -e "$p" ] && echo "path $p"
  done
  awk -v t="$PN_TMP" 'index($5, t) == 1 {print "mount " $5}' /proc/self/mountinfo
  cri_cgroups | sed 's/^/cgroup /'
  return 0
}

# Cleanup, before common.sh's: containerd first, then whatever sandboxes and
# shims its state dir names (by PID), mounts below the temp dir, our cgroups.
cri_cleanup() {
  local rc=$? d f pid
  set +e # every step is best effort; common.sh's cleanup must run
  if [ $rc != 0 ]; then
    while read -r d; do
      echo "--- errors in $d/containerd.log:" >&2
      grep -e 'level=error' -e 'level=warning' "$d/containerd.log" | tail -n 15 | cut -c1-600 >&2 || true
    done <"$PN_TMP/cri.dirs"
  fi
  while read -r pid start; do
    [ "$(pn_start_time "$pid")" = "$start" ] && kill "$pid" 2>/dev/null
  done <"$PN_TMP/pids.list"
  # A PID file may outlive its process: only a process in this test's cgroup
  # is killed. Shims (found by the address of their containerd, a path in
  # this test's temp dir, in their command line) go after the sandboxes they
  # reap.
  while read -r d; do
    for f in "$d"/state/io.containerd.runtime.v2.task/*/*/init.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      if grep -qs "/$CRI_CGROUP/" "/proc/$pid/cgroup"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
  done <"$PN_TMP/cri.dirs"
  local deadline=$((SECONDS + 3))
  while [ -n "$(for d in $(cri_cgroups); do cat "$d"/*/cgroup.procs; done 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.05
  done
  while read -r d; do
    for pid in $(cri_shims "$d"); do kill -9 "$pid" 2>/dev/null || true; done
  done <"$PN_TMP/cri.dirs"
  while read -r pid _; do wait "$pid" 2>/dev/null || true; done <"$PN_TMP/pids.list"
  awk -v t="$PN_TMP" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r d; do umount -l "$d" 2>/dev/null || true; done
  for d in $(cri_cgroups); do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  (exit $rc)
  pn_cleanup
}
trap cri_cleanup EXIT
