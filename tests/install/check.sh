#!/usr/bin/env bash
# Installs a configured weir build into a scratch prefix and builds
# programs against the INSTALLED tree only, as an application would (no
# include path into the source tree):
#   size_rule.c  every public struct follows weir.h's size rule
#   outside/     a small project using core, store and bridge, built
#                twice: with CMake's find_package(weir CONFIG COMPONENTS
#                core store bridge), and with pkg-config (weir-bridge)
#
#   bash tests/install/check.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=$(mktemp -d /tmp/weir-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libweir.so' -printf '%h\n' -quit)
if [[ -z "$libdir" ]]; then
	echo "install check: no libweir.so under $prefix" >&2
	exit 1
fi
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$prefix/include" \
    "$here/size_rule.c" -L"$libdir" -lweir_store -lweir -lsqlite3 -lpthread \
    -o "$prefix/size_rule"
LD_LIBRARY_PATH="$libdir" "$prefix/size_rule"

# The outside project with CMake: only CMAKE_PREFIX_PATH leads to weir.
echo "-- outside project: find_package(weir CONFIG COMPONENTS core store bridge)"
cmake -S "$here/outside" -B "$prefix/outside-cmake" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" >"$prefix/outside-cmake.log" 2>&1 || {
	cat "$prefix/outside-cmake.log" >&2
	exit 1
}
grep -- '-- weir ' "$prefix/outside-cmake.log" || true
cmake --build "$prefix/outside-cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/outside-cmake/outside" \
    "$prefix/outside-cmake/events.db"

# The same program with pkg-config: the .pc files locate the prefix from
# their own place (${pcfiledir}), so nothing is rewritten here.
echo "-- outside project: pkg-config weir-bridge"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists --print-errors 'weir-bridge >= 0.1' weir-store weir-core
# shellcheck disable=SC2046 # pkg-config's output is a list of words
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
    "$here/outside/main.c" $(pkg-config --cflags --libs weir-bridge) \
    -o "$prefix/outside-pc"
LD_LIBRARY_PATH="$libdir" "$prefix/outside-pc" "$prefix/outside-pc.db"
