#!/usr/bin/env bash
# No shell anywhere in podnet's programs: no system(), popen(), wordexp(), no
# exec of a shell ("/bin/sh", "sh -c", "bash"). podnet runs as root with
# strings from the runtime (container IDs, interface names, network names), so
# a shell would be an injection point. Child processes (IPAM delegation) are
# started with posix_spawn and an argument vector only. Needs no root.
set -euo pipefail
PODNET_SRC=${PODNET_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# shell_uses DIR...: prints every line of C/C++ source below DIR... that calls a
# shell or a libc function that runs one (comments included: cheap and strict).
shell_uses() {
  find "$@" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.cc' -o -name '*.h' -o -name '*.c' \) -print0 |
    xargs -0 -r grep -nHE \
      -e '(^|[^A-Za-z0-9_.>:])(std::)?(system|popen|wordexp|execl|execlp|execle|execvp|execvpe)[[:space:]]*\(' \
      -e '"(/usr)?/bin/(ba|da)?sh"' -e '"sh"' -e 'sh -c' || true
}

# The detector itself must see each form it guards against.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/bad.cpp" <<'EOF'
int a() { return system("ip link"); }
int b() { return std::system("x"); }
FILE* c() { return popen("ls", "r"); }
int d() { return execl("/bin/sh", "sh", "-c", "x", nullptr); }
int e() { const char* argv[] = {"bash", "-c", "x"}; return spawn("sh -c x", argv); }
int f() { return execvp("sh", args); }
EOF
cat >"$probe/good.cpp" <<'EOF'
int g() { return posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp); }
int h() { return subsystem(1); }
int i() { return obj.system_(2); }
EOF
found=$(shell_uses "$probe" | grep -c '^.*bad\.cpp:' || true)
[ "$found" = 6 ] || { echo "FAIL: the detector found $found of 6 shell uses in its probe" >&2; exit 1; }
false_hits=$(shell_uses "$probe" | grep 'good\.cpp:' || true)
[ -z "$false_hits" ] || { echo "FAIL: the detector flags innocent code: $false_hits" >&2; exit 1; }

dirs=()
for d in plugin ipam daemon lib include; do [ -d "$PODNET_SRC/$d" ] && dirs+=("$PODNET_SRC/$d"); done
[ ${#dirs[@]} -ge 4 ] || { echo "FAIL: source directories not found below $PODNET_SRC" >&2; exit 1; }
hits=$(shell_uses "${dirs[@]}")
if [ -n "$hits" ]; then
  echo "FAIL: shell use in podnet's sources:" >&2
  echo "$hits" >&2
  exit 1
fi
files=$(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' \) | wc -l)
echo "ok: no system()/popen()/exec of a shell in $files source files of ${dirs[*]#"$PODNET_SRC"/}"
