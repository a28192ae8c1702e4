#!/usr/bin/env bash
# The host install (`cmake --install`, `make -f Makefile.e2e install`): every
# file lands where conf/podnetd.service and docs/install.md say, the unit's
# ExecStart= names the installed podnetd (also for a --prefix given at install
# time) with flags it accepts, and systemd-analyze accepts the unit. Always
# staged under DESTDIR in the test's temp dir: PODNET_CNI_BIN_DIR is absolute,
# so an install without DESTDIR would write the machine's /opt/cni/bin.
source "$(dirname "$0")/../lib/common.sh"

BUILD=$(dirname "$PODNET_BIN")
[ -f "$BUILD/cmake_install.cmake" ] || pn_fail "$BUILD is not a configured build directory"
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
PREFIX=$(cache CMAKE_INSTALL_PREFIX)
CNI_BIN=$(cache PODNET_CNI_BIN_DIR)
if [ -z "$PREFIX" ] || [ -z "$CNI_BIN" ]; then
  pn_fail "CMAKE_INSTALL_PREFIX or PODNET_CNI_BIN_DIR not in the cache"
fi
pn_expect_eq "$CNI_BIN" /opt/cni/bin "default PODNET_CNI_BIN_DIR"
grep -q '/opt/cni/bin' "$PODNET_SRC/README.md" || pn_fail "README.md does not name /opt/cni/bin"

# install ROOT [--prefix P]: cmake --install into DESTDIR=ROOT.
install_into() {
  local root=$1
  shift
  DESTDIR=$root cmake --install "$BUILD" "$@" >"$PN_TMP/install.log" 2>&1 ||
    pn_fail "cmake --install $*:"$'\n'"$(cat "$PN_TMP/install.log")"
}

# check_tree ROOT PREFIX: prints one line per problem of the tree installed
# under ROOT with prefix PREFIX; nothing when it is complete and consistent.
check_tree() {
  local root=$1 prefix=$2 f
  local unit="$root$prefix/lib/systemd/system/podnetd.service"
  for f in "$CNI_BIN/podnet" "$CNI_BIN/podnet-ipam" "$prefix/sbin/podnetd"; do
    [ -x "$root$f" ] || { echo "missing executable $f"; continue; }
    cmp -s "$root$f" "$PODNET_BIN/$(basename "$f")" || echo "$f differs from the build's"
  done
  for f in README.md cluster.example.json 10-podnet.conflist podnet.yaml; do
    cmp -s "$root$prefix/share/doc/podnet/$f" "$PODNET_SRC/$( [ "$f" = README.md ] || echo conf/)$f" ||
      echo "share/doc/podnet/$f missing or not the repository's"
  done
  # The README's links into docs/ resolve in the installed copy.
  for f in $(cd "$PODNET_SRC" && ls docs/*.md); do
    cmp -s "$root$prefix/share/doc/podnet/$f" "$PODNET_SRC/$f" || echo "share/doc/podnet/$f missing or not the repository's"
  done
  [ -f "$unit" ] || { echo "missing $prefix/lib/systemd/system/podnetd.service"; return 0; }
  # ExecStart=: the installed podnetd, and every flag accepted by it.
  local exec
  exec=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | tr -d '\\\n' | sed 's/^ExecStart=//')
  local argv0=${exec%% *}
  [ "$argv0" = "$prefix/sbin/podnetd" ] || echo "ExecStart= runs $argv0, installed is $prefix/sbin/podnetd"
  if [ -x "$root$argv0" ]; then
    local help flag
    help=$("$root$argv0" --help)
    while read -r flag; do
      grep -qE -- "(^|[ ,])$flag([ ,=]|$)" <<<"$help" || echo "ExecStart= flag $flag is not accepted by podnetd"
    done < <(grep -o -- '--[a-z-]*' <<<"$exec")
  else
    echo "ExecStart= binary $argv0 is not in the install tree"
  fi
  # Documentation= and the example the unit's comment points at.
  local doc
  doc=$(sed -n 's#^Documentation=file://##p' "$unit")
  [ -f "$root$doc" ] || echo "Documentation= $doc is not in the install tree"
  grep -q "$prefix/share/doc/podnet/cluster.example.json" "$unit" ||
    echo "the unit does not point at $prefix/share/doc/podnet/cluster.example.json"
  # The unit is the repository's, with only the prefix's paths rewritten.
  diff <(sed "s#$prefix/#/usr/local/#g" "$unit") "$PODNET_SRC/conf/podnetd.service" >/dev/null ||
    echo "the installed unit differs from conf/podnetd.service beyond its paths"
  return 0
}

# systemd_verify ROOT PREFIX: systemd-analyze's complaints about the installed
# unit, nothing when clean. It needs ExecStart='s binary on this machine, so it
# verifies a copy pointing into ROOT. It exits 0 on bad values (only warns),
# so any output is a failure.
systemd_verify() {
  local root=$1 prefix=$2
  local dir="$PN_TMP/verify-$RANDOM"
  mkdir -p "$dir"
  sed "s#^ExecStart=$prefix/#ExecStart=$root$prefix/#" "$root$prefix/lib/systemd/system/podnetd.service" \
    >"$dir/podnetd.service"
  systemd-analyze verify "$dir/podnetd.service" 2>&1 || echo "systemd-analyze verify exited $?"
}

# 1. The configured prefix, staged under DESTDIR.
ROOT="$PN_TMP/root"
install_into "$ROOT"
problems=$(check_tree "$ROOT" "$PREFIX")
[ -z "$problems" ] || pn_fail "install under DESTDIR, prefix $PREFIX:"$'\n'"$problems"
grep -qF -- "-- Installing: $ROOT$PREFIX/lib/systemd/system/podnetd.service" "$PN_TMP/install.log" ||
  pn_fail "the unit is not in cmake's install log (install_manifest.txt)"
pn_pass "DESTDIR install: $CNI_BIN/{podnet,podnet-ipam}, $PREFIX/sbin/podnetd, unit, docs"

# 2. A prefix given at install time: the unit follows it.
ROOT2="$PN_TMP/root2"
install_into "$ROOT2" --prefix /opt/podnet-test
problems=$(check_tree "$ROOT2" /opt/podnet-test)
[ -z "$problems" ] || pn_fail "install with --prefix /opt/podnet-test:"$'\n'"$problems"
grep -q '^ExecStart=/opt/podnet-test/sbin/podnetd ' "$ROOT2/opt/podnet-test/lib/systemd/system/podnetd.service" ||
  pn_fail "ExecStart= does not follow --prefix"
pn_pass "install-time --prefix: ExecStart=/opt/podnet-test/sbin/podnetd"

# 3. The checks catch a broken tree.
rm "$ROOT2$CNI_BIN/podnet-ipam"
sed -i 's#^ExecStart=/opt/podnet-test/sbin/podnetd #ExecStart=/usr/bin/podnetd #' \
  "$ROOT2/opt/podnet-test/lib/systemd/system/podnetd.service"
sed -i 's#--resync-interval#--resync-every#' "$ROOT2/opt/podnet-test/lib/systemd/system/podnetd.service"
problems=$(check_tree "$ROOT2" /opt/podnet-test)
for want in "missing executable $CNI_BIN/podnet-ipam" "ExecStart= runs /usr/bin/podnetd" \
  "ExecStart= binary /usr/bin/podnetd is not in the install tree" "differs from conf/podnetd.service"; do
  grep -qF -- "$want" <<<"$problems" || pn_fail "broken tree: expected '$want' among:"$'\n'"$problems"
done
sed -i 's#^ExecStart=/usr/bin/podnetd #ExecStart=/opt/podnet-test/sbin/podnetd #' \
  "$ROOT2/opt/podnet-test/lib/systemd/system/podnetd.service"
problems=$(check_tree "$ROOT2" /opt/podnet-test)
grep -qF -- "flag --resync-every is not accepted" <<<"$problems" ||
  pn_fail "unknown ExecStart= flag not caught:"$'\n'"$problems"
pn_pass "a missing binary, a wrong ExecStart= and an unknown flag are each caught"

# 4. systemd's own check of the unit. systemd-analyze verify needs no running
# systemd (nor a booted one: it only loads the unit), so it is required.
command -v systemd-analyze >/dev/null ||
  pn_fail "systemd-analyze is not installed (Debian package systemd): the unit cannot be verified"
out=$(systemd_verify "$ROOT" "$PREFIX")
[ -z "$out" ] || pn_fail "systemd-analyze verify:"$'\n'"$out"
sed -i 's#^Restart=always#Restart=sometimes#' "$ROOT$PREFIX/lib/systemd/system/podnetd.service"
out=$(systemd_verify "$ROOT" "$PREFIX")
grep -q 'Restart\|restart' <<<"$out" || pn_fail "systemd-analyze verify missed Restart=sometimes: $out"
rm "$ROOT$PREFIX/sbin/podnetd"
sed -i 's#^Restart=sometimes#Restart=always#' "$ROOT$PREFIX/lib/systemd/system/podnetd.service"
out=$(systemd_verify "$ROOT" "$PREFIX")
grep -q 'not executable' <<<"$out" || pn_fail "systemd-analyze verify missed a missing podnetd: $out"
pn_pass "systemd-analyze verify: clean, and it flags a bad value and a missing ExecStart= binary"
