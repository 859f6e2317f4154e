#!/usr/bin/env bash
# Checks the hardening of a built shared library (issue 12): full RELRO
# (a GNU_RELRO segment and BIND_NOW), a non-executable stack, the stack
# protector and, where the library calls a function that glibc fortifies,
# the _chk variant. Usage: scripts/check-hardening.sh path/to/libweir.so
set -euo pipefail
lib=${1:?usage: check-hardening.sh LIBRARY}
fail=0
say() { echo "check-hardening: $lib: $*" >&2; fail=1; }
# Read whole first: `readelf | grep -q` under pipefail fails on SIGPIPE.
segs=$(readelf -lW "$lib")
dyn=$(readelf -dW "$lib")
syms=$(readelf --dyn-syms -W "$lib")
grep -q 'GNU_RELRO' <<<"$segs" || say "no GNU_RELRO segment (-z relro)"
grep -Eq '\(BIND_NOW\)|FLAGS.*\bNOW\b' <<<"$dyn" ||
	say "no BIND_NOW (-z now): RELRO is only partial"
grep -E 'GNU_STACK' <<<"$segs" | grep -q 'RWE' &&
	say "executable stack"
grep -q '__stack_chk_fail' <<<"$syms" ||
	say "no __stack_chk_fail: built without -fstack-protector-strong"
grep -Eq '__(memcpy|snprintf|vsnprintf|memset|strcpy|sprintf)_chk' \
	<<<"$syms" || say "no fortified (_chk) calls: no _FORTIFY_SOURCE"
((fail == 0)) && echo "check-hardening: $lib: full RELRO, BIND_NOW," \
	"stack protector, fortified calls"
exit "$fail"
