#!/usr/bin/env bash
# Installs a configured weir build into a scratch prefix and builds
# programs against the INSTALLED headers and library only, as an
# application would (no include path into the source tree):
#   size_rule.c  every public struct follows weir.h's size rule
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
