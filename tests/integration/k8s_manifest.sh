#!/usr/bin/env bash
# conf/podnet.yaml, the DaemonSet install, is consistent with the repository:
# well-formed, read-only RBAC on nodes, the image conf/Containerfile builds, the
# CNI binaries the build makes, declared volumes on the documented host paths,
# and only flags the built podnetd accepts (tests/integration/k8s_manifest.py).
# Then each check is shown to catch its defect: a copy with one defect per
# check (written to $PN_TMP/negatives/<defect>/) must fail with that check's message. No network, no cluster.
source "$(dirname "$0")/../lib/common.sh"

CHECK="$PODNET_SRC/tests/integration/k8s_manifest.py"
"$PODNET_BIN/podnetd" --help >"$PN_TMP/podnetd-help.txt"
grep -q -- '--source' "$PN_TMP/podnetd-help.txt" || pn_fail "podnetd --help does not list --source"

# Debian's python3 (with python3-yaml, scripts/deps.sh) before any other on PATH.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
check() { # check VERB [ARGS]: the checker on conf/podnet.yaml and conf/Containerfile
  local verb=$1
  shift
  "$PYTHON" "$CHECK" "$verb" --manifest "$PODNET_SRC/conf/podnet.yaml" \
    --containerfile "$PODNET_SRC/conf/Containerfile" --src "$PODNET_SRC" --bin "$PODNET_BIN" \
    --podnetd-help "$PN_TMP/podnetd-help.txt" "$@"
}

out=$(check check) ||
  pn_fail "conf/podnet.yaml:"$'\n'"$out"
pn_pass "conf/podnet.yaml and conf/Containerfile pass every check"

# mutation -> the message its check prints.
declare -A EXPECT=(
  [yaml_broken]="not well-formed YAML"
  [no_api_version]="has no apiVersion"
  [no_name]="has no metadata.name"
  [rbac_write]="not read-only"
  [rbac_wildcard]="not read-only"
  [rbac_secrets]="nodes only"
  [binding_other_role]="roleRef does not name the ClusterRole"
  [image_other_tag]="container podnetd: image localhost/podnet:9.9.9"
  [init_image_other]="container install-cni: image busybox"
  [containerfile_other_tag]="not tagged with the project version"
  [containerfile_no_cni]="podnet-ipam, which the Containerfile does not put there"
  [containerfile_not_static]="does not build podnet and podnet-ipam static"
  [containerfile_cni_dir]="installs /stage/usr/lib/cni/podnet but copies no such file"
  [containerfile_no_yaml_cpp]="does not install libyaml-cpp-dev (for yaml-cpp)"
  [init_copies_unknown]="podnet-extra, which is not a build output"
  [init_wrong_dest]="init container writes /opt/cni/bin"
  [mount_undeclared]="mounts undeclared volume cni-conff"
  [volume_unused]="volume extra is declared but mounted by no container"
  [hostpath_other]="is not the hostPath /etc/cni/net.d"
  [hostpath_undocumented]="hostPath / is none of the documented paths"
  [flag_unknown]="flag --no-such-flag is not accepted by podnetd"
  [flag_source_file]="--source kubernetes"
  [conf_dir_other]="--cni-conf-dir /etc/cni/other is not the documented"
  [ipam_dir_other]="--ipam-data-dir /var/lib/other is not podnet-ipam's default"
  [node_name_not_downward]="downward API"
  [node_name_no_env]="uses \$(NODE_NAME), which is not in env"
  [not_host_network]="not hostNetwork"
  [privileged]="container podnetd is privileged"
  [cap_sys_admin]="SYS_ADMIN"
  [no_net_admin]="lacks NET_ADMIN"
  [no_tolerations]="does not tolerate every taint"
  [no_priority]="system-node-critical"
  [on_delete]="not RollingUpdate"
  [probe_other_port]="readinessProbe probes 127.0.0.1:9651"
  [probe_unserved_path]="livenessProbe path /live is not served"
  [selector_mismatch]="selector does not match"
)

seen=0
while IFS=$'\t' read -r m failures; do
  want=${EXPECT[$m]:?no expectation for mutation $m}
  [ -n "$failures" ] || pn_fail "mutation $m: the broken manifest passed"
  grep -qF -- "$want" <<<"$failures" || pn_fail "mutation $m: expected '$want' among: $failures"
  seen=$((seen + 1))
done < <(check negatives --out "$PN_TMP/negatives")
[ "$seen" = "${#EXPECT[@]}" ] || pn_fail "$seen mutations checked, ${#EXPECT[@]} expected"
pn_pass "$seen broken copies each fail with their check's message"

# The init container's script itself, run with the image's and the host's
# paths pointed into the test's temp dir: both binaries land, executable and
# identical to the build's, over an older copy, with no temporary file left.
host="$PN_TMP/host/opt/cni/bin"
mkdir -p "$host"
echo old >"$host/podnet"
"$PYTHON" "$CHECK" init-script --manifest "$PODNET_SRC/conf/podnet.yaml" >"$PN_TMP/init.sh"
sed -i -e "s#/host/opt/cni/bin#$host#g" -e "s#/usr/lib/podnet/cni#$PODNET_BIN#g" "$PN_TMP/init.sh"
sh -e "$PN_TMP/init.sh" || pn_fail "the init container's script failed"
for b in podnet podnet-ipam; do
  { [ -x "$host/$b" ] && cmp -s "$host/$b" "$PODNET_BIN/$b"; } || pn_fail "init script: $b not installed"
done
pn_expect_eq "$(find "$host" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')" "podnet podnet-ipam " \
  "files in /opt/cni/bin after the init script"
pn_pass "the init container's script installs podnet and podnet-ipam, replacing an old copy"
