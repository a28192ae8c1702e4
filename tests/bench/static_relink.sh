#!/usr/bin/env bash
# An experiment for the bench, not the product's build: relinks podnet and
# podnet-ipam from a build tree's objects as fully static binaries (libnl,
# libstdc++, fmt and libc linked in; --gc-sections), to measure what static
# linking does to start-up, latency and peak RSS:
#   bash tests/bench/static_relink.sh [BUILD] [OUTDIR]
#   BENCH_BIN=OUTDIR sudo -E bash tests/bench/run.sh --quick
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build-bench}" && pwd)
OUT=${2:-$BUILD/bench/static-bin}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LIBDIR=/usr/lib/x86_64-linux-gnu

# Debian ships fmt as a shared library only: compile its implementation here.
cat >"$OUT/fmt_static.cpp" <<'CPP'
#include <fmt/format-inl.h>
FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);
}  // namespace detail
FMT_END_NAMESPACE
CPP
g++ -std=c++20 -O2 -c "$OUT/fmt_static.cpp" -o "$OUT/fmt_static.o"

relink() { # TARGET_DIR TARGET
  local dir=$BUILD/$1 target=$2 cmd
  cmd=$(cat "$dir/CMakeFiles/$target.dir/link.txt")
  cmd=${cmd/-o ..\/bin\/$target/-o $OUT/$target}
  cmd=${cmd//$LIBDIR\/libnl-route-3.so/$LIBDIR/libnl-route-3.a}
  cmd=${cmd//$LIBDIR\/libnl-3.so/$LIBDIR/libnl-3.a}
  cmd=$(sed -E "s#$LIBDIR/libfmt\.so[0-9.]*#$OUT/fmt_static.o#g" <<<"$cmd")
  # Fully static when every library has an archive; else only libstdc++/libgcc
  # (and whatever has a .a) go static, the rest (e.g. libnftables) stays shared.
  local mode="-static"
  grep -q '\.so' <<<"$cmd" && mode="-static-libstdc++ -static-libgcc"
  (cd "$dir" && eval "$cmd $mode -Wl,--gc-sections -Wl,-O1 -pthread" 2>&1 |
    grep -v -e 'statically linked' -e 'in function' || true)
  echo "$target: $mode; $(ldd "$OUT/$target" 2>&1 | grep -c '=>') shared libraries"

}
relink plugin podnet
relink ipam podnet-ipam
ln -sf "$BUILD/bin/cnitool" "$OUT/cnitool"
ls -la "$OUT"
