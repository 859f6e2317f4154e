#!/usr/bin/env bash
# Builds the Debian package of a configured (and built) weir tree with
# `cpack -G DEB`, checks its control data, unpacks it into a scratch root
# with `dpkg -x` (never into the system: nothing is registered with
# dpkg), and uses it from there: the libraries load with their Depends
# resolved, the outside project builds against the package's
# pkg-config files, and the `weir` tool answers --version.
#
#   bash tests/install/deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=$(mktemp -d /tmp/weir-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

cpack -G DEB -B "$scratch/out" --config "$build/CPackConfig.cmake" \
    >"$scratch/cpack.log" 2>&1 || {
	cat "$scratch/cpack.log" >&2
	exit 1
}
debs=("$scratch"/out/*.deb)
if ((${#debs[@]} != 1)) || [[ ! -f "${debs[0]}" ]]; then
	echo "deb: cpack made no single .deb" >&2
	ls -l "$scratch/out" >&2
	exit 1
fi
deb=${debs[0]}
echo "-- $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

# Depends comes from dpkg-shlibdeps: each client library a built part
# links must be there (a backend not built is not a dependency).
depends=$(dpkg-deb -f "$deb" Depends)
echo "-- Depends: $depends"
need=(libc6 libsqlite3-0)
# (A find's output is read whole: `find | grep -q` under pipefail fails
# when grep exits early and find gets SIGPIPE.)
if [[ -n "$(find "$build" -name 'libweir_kafka.so*' -print -quit)" ]]; then
	need+=(librdkafka1)
fi
if [[ -n "$(find "$build" -name 'libweir_nats.so*' -print -quit)" ]]; then
	need+=(libnats)
fi
for p in "${need[@]}"; do
	if ! grep -q "\b$p" <<<"$depends"; then
		echo "deb: Depends lacks $p" >&2
		exit 1
	fi
done

root=$scratch/root
dpkg -x "$deb" "$root"
libdir=$(find "$root" -name 'libweir.so.0' -printf '%h\n' -quit)
if [[ -z "$libdir" ]]; then
	echo "deb: no libweir.so.0 in the package" >&2
	dpkg-deb -c "$deb" >&2
	exit 1
fi
# Every library of the package loads with only the system's libraries
# (the Depends above) and the package's own.
for lib in "$libdir"/libweir*.so.0; do
	deps=$(LD_LIBRARY_PATH="$libdir" ldd "$lib")
	if grep -q 'not found' <<<"$deps"; then
		echo "deb: $lib: unresolved libraries:" >&2
		grep 'not found' <<<"$deps" >&2
		exit 1
	fi
done
echo "-- $(find "$libdir" -name 'libweir*.so.0' | wc -l) libraries load"

# The package's headers and .pc files build the outside project.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046 # pkg-config's output is a list of words
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
    "$here/outside/main.c" $(pkg-config --cflags --libs weir-bridge) \
    -o "$scratch/outside"
LD_LIBRARY_PATH="$libdir" "$scratch/outside" "$scratch/outside.db"

# ---- the `weir` tool (src/cli): the package must carry it -------------
tool=$root/usr/bin/weir
if [[ ! -x "$tool" ]]; then
	echo "deb: no usr/bin/weir in the package" >&2
	exit 1
fi
version=$(LD_LIBRARY_PATH="$libdir" "$tool" --version)
echo "-- usr/bin/weir --version: $version"
want=$(dpkg-deb -f "$deb" Version)
if ! grep -qF "${want%-*}" <<<"$version"; then
	echo "deb: weir --version does not say ${want%-*}" >&2
	exit 1
fi
if [[ -z "$(find "$root/usr/share/man" -name 'weir*.1*' -print \
    -quit 2>/dev/null)" ]]; then
	echo "deb: usr/bin/weir without its man pages" >&2
	exit 1
fi
